// The alerts the on-call engineer gets, all to one action group:
// - failed function runs (any Function's invocation that failed, by function name);
// - dead letters per day (events ingestUsage refused, from its one JSON log line per batch);
// - ingest lag (how far behind the usage hub ingestion is, from the same line), and ingestion
//   stalled (the usage hub receives but nobody reads it: no log line would ever come);
// - the sidecar's dropped and rejected events and its spool size (managed Prometheus rules on the
//   sidecar's own metrics, src/sidecar/metrics.ts).

param location string
param namePrefix string

@description('E-mail addresses the alerts go to (the action group); none is allowed, e.g. for a pager added by hand.')
param alertEmails string[]

param appInsightsId string
param usageHubNamespaceId string
param monitorWorkspaceId string
param clusterId string
param clusterName string

@description('Dead letters in a day above which the on-call engineer is told.')
@minValue(0)
param deadLettersPerDay int

@description('Seconds ingestion may fall behind the usage hub before an alert.')
@minValue(60)
param ingestLagSeconds int

@description('Spool bytes on one sidecar, sustained for 15 minutes, before an alert (Event Hubs unreachable from that pod).')
@minValue(1)
param spoolBytesAlert int

param tags object

resource group 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-oncall'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'chargeback'
    enabled: true
    emailReceivers: [for (email, i) in alertEmails: { name: 'email${i}', emailAddress: email, useCommonAlertSchema: true }]
  }
}

// The JSON line ingestUsage logs per batch: {"function":"ingestUsage","partition":..,"rejected":..,"lagSeconds":..}
var ingestLines = 'traces | where message startswith \'{"function":"ingestUsage"\' | extend line = parse_json(message)'

var logAlerts = [
  {
    name: 'failed-function-runs'
    display: 'Chargeback: a function run failed'
    text: 'A Function App invocation failed (the function is in the dimension). The Event Hubs triggers retry; the daily run is retried by the day queue. Look at the exceptions table for the reason.'
    severity: 1
    frequency: 'PT5M'
    window: 'PT15M'
    query: 'requests | where success == false | summarize failed = count() by operation_Name'
    measure: 'failed'
    dimensions: ['operation_Name']
    threshold: 0
  }
  {
    name: 'dead-letters-per-day'
    display: 'Chargeback: events refused today'
    text: 'ingestUsage refused more usage events than the daily threshold. Each is kept with its reason in the ledger\'s dead letters; fix the sender or the price card, then run replay-deadletters.'
    severity: 2
    frequency: 'PT1H'
    window: 'P1D'
    query: '${ingestLines} | summarize deadLetters = sum(toint(line.rejected))'
    measure: 'deadLetters'
    dimensions: []
    threshold: deadLettersPerDay
  }
  {
    name: 'ingest-lag'
    display: 'Chargeback: ingestion is behind the usage hub'
    text: 'The oldest event of a recent batch entered the usage hub long ago: ingestion is slow or was down. Events stay in the hub for its retention, so nothing is lost yet; scale-out or storage errors are the usual causes.'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    query: '${ingestLines} | summarize lagSeconds = max(todouble(line.lagSeconds))'
    measure: 'lagSeconds'
    dimensions: []
    threshold: ingestLagSeconds
  }
]

resource logRules 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for rule in logAlerts: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.display
      description: rule.text
      severity: rule.severity
      enabled: true
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      scopes: [appInsightsId]
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Maximum'
            metricMeasureColumn: rule.measure
            dimensions: [for d in rule.dimensions: { name: d, operator: 'Include', values: ['*'] }]
            operator: 'GreaterThan'
            threshold: rule.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: [group.id] }
    }
  }
]

// No log line comes when ingestUsage never runs: the hub's own metrics show events in, none out.
resource ingestStalled 'Microsoft.Insights/metricAlerts@2026-01-01' = {
  name: '${namePrefix}-ingest-stalled'
  location: 'global'
  tags: tags
  properties: {
    description: 'The usage hub receives events but nothing reads them: the Function App is stopped, failing to start, or has lost its role on the hub.'
    severity: 1
    enabled: true
    scopes: [usageHubNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT30M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'incoming'
          metricName: 'IncomingMessages'
          metricNamespace: 'Microsoft.EventHub/namespaces'
          dimensions: [{ name: 'EntityName', operator: 'Include', values: ['usage'] }]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'outgoing'
          metricName: 'OutgoingMessages'
          metricNamespace: 'Microsoft.EventHub/namespaces'
          dimensions: [{ name: 'EntityName', operator: 'Include', values: ['usage'] }]
          operator: 'LessThan'
          threshold: 1
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [{ actionGroupId: group.id }]
  }
}

resource sidecarRules 'Microsoft.AlertsManagement/prometheusRuleGroups@2023-03-01' = {
  name: '${namePrefix}-sidecar'
  location: location
  tags: tags
  properties: {
    description: 'The usage sidecar beside each vLLM pod: events it could not keep, and events waiting on disk.'
    scopes: [monitorWorkspaceId, clusterId]
    clusterName: clusterName
    enabled: true
    interval: 'PT1M'
    rules: [
      {
        alert: 'ChargebackSidecarDroppedEvents'
        expression: 'sum by (namespace, pod) (increase(chargeback_sidecar_events_total{outcome="dropped"}[5m])) > 0'
        severity: 1
        annotations: {
          description: 'Sidecar {{ $labels.pod }} dropped usage events: the spool could not be written (disk full or broken). Those requests will be missing from the chargeback.'
        }
        actions: [{ actionGroupId: group.id }]
        resolveConfiguration: { autoResolved: true, timeToResolve: 'PT15M' }
      }
      {
        alert: 'ChargebackSidecarRejectedEvents'
        expression: 'sum by (namespace, pod) (increase(chargeback_sidecar_events_total{outcome="rejected"}[15m])) > 0'
        severity: 3
        annotations: {
          description: 'Sidecar {{ $labels.pod }} set events aside that can never be sent (rejected.ndjson in its spool folder).'
        }
        actions: [{ actionGroupId: group.id }]
        resolveConfiguration: { autoResolved: true, timeToResolve: 'PT30M' }
      }
      {
        alert: 'ChargebackSidecarSpooling'
        expression: 'max by (namespace, pod) (chargeback_sidecar_spool_bytes) > ${spoolBytesAlert}'
        for: 'PT15M'
        severity: 2
        annotations: {
          description: 'Sidecar {{ $labels.pod }} has {{ $value }} bytes of events on disk: Event Hubs has been unreachable from it. Nothing is lost while the disk has room.'
        }
        actions: [{ actionGroupId: group.id }]
        resolveConfiguration: { autoResolved: true, timeToResolve: 'PT10M' }
      }
    ]
  }
}

output actionGroupId string = group.id
