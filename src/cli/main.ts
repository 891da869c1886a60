import { ConfigurationError, PermanentError } from '../domain/errors.js';
import { escapeControlCharacters } from '../domain/text.js';
import { exitCodeOf, renderVerdict } from '../domain/gate/judge.js';
import { EVALUATE_HELP, evaluateSummary, parseEvaluateArgs, runEvaluate } from './evaluate-command.js';
import { EXPLAIN_HELP, parseExplainArgs, runExplain } from './explain-command.js';
import { DRIFT_HELP, parseDriftArgs, runDrift } from './drift-command.js';
import { CALIBRATE_HELP, parseCalibrateArgs, runCalibrate } from './calibrate-command.js';
import { COST_GATE_HELP, parseCostGateArgs, runCostGate } from './cost-gate-command.js';
import { MONTHLY_HELP, parseMonthlyArgs, runMonthly } from './monthly-command.js';
import { parsePromoteArgs, PROMOTE_HELP, runPromote } from './promote-command.js';
import { FIXED_COST_HELP, parseFixedCostArgs, runFixedCost } from './fixed-cost-command.js';
import { retrainFromEnv } from './gate-retraining.js';
import { GATE_HELP, gateNotes, gateWarnings, parseGateArgs, runGate } from './gate-command.js';
import { parseReportArgs, REPORT_HELP, runReport } from './report-command.js';
import { parseReplayArgs, REPLAY_HELP, runReplay } from './replay-command.js';
import {
  parseReplayWorkloadArgs,
  REPLAY_WORKLOAD_HELP,
  replayWorkloadLines,
  runReplayWorkload,
} from './replay-workload-command.js';
import { parseRestateArgs, RESTATE_HELP, runRestate } from './restate-command.js';
import { parseSidecarArgs, runSidecar, SIDECAR_HELP } from './sidecar-command.js';
import { parseSimulateArgs, runSimulate, SIMULATE_HELP } from './simulate-command.js';
import { parseSweepArgs, runSweep, SWEEP_HELP } from './sweep-command.js';
import { progressOn } from './progress.js';
import { UsageError } from './usage-error.js';
import { packageVersion } from './version.js';

export interface Streams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export const HELP = `Usage: chargeback <command> [options]

GPU chargeback for self-hosted LLM inference (vLLM on Azure A100): allocates the fleet's GPU cost
to tenants, features, models and request classes, batching-aware, closing to the cent.

Commands:
  report     write the daily chargeback CSV, summary and rejected lines for one UTC day
  drift      compare a day's metrics with the days before it, write its alerts, post them to Teams
  explain    what one request cost that day and why (phases, GPU-seconds, its pod's load), or a feature's costliest
  gate       judge a model's latest evaluation against its quality rules: PASS (exit 0) or FAIL (1)
  evaluate   run a regression suite through the model's endpoint and make its evaluation event
  restate    mark stored daily reports for restatement and queue them for the Function App
  calibrate  step-cost constants from vLLM's Prometheus metrics (a cross-check of the event fit)
  cost-gate  what a release would do to the monthly GPU bill, from baseline and candidate runs: PASS (0) or FAIL (1)
  replay-workload  send a deterministic sample of real traffic's shape through a sidecar (a canary's cost evidence)
  promote    whether a retrained candidate goes into service (both gates): PROMOTE (0) or HOLD (1)
  monthly    the month's chargeback CSV and report page (HTML, charts) from the daily reports
  fixed-cost what the infrastructure commits to: GPU pools at min and max, training per hour (from a Bicep snapshot)
  simulate   write a realistic, seeded day of vLLM fleet usage and capacity events (NDJSON)
  sidecar    run the metering proxy beside vLLM, publishing usage and capacity events
  replay-deadletters  add the ledger's dead letters that now pass to the ledger, exactly once
  sweep-orphans       delete old segment blobs that no ledger index row commits

Run 'chargeback <command> --help' for a command's options, 'chargeback --version' for the version.
The options every command shares, and each command's exit statuses, are in docs/cli.md.`;

/** The `chargeback` command line; returns the exit status (0 ok, 1 internal error, 2 usage). */
export async function main(
  args: readonly string[],
  streams: Streams,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const [command, ...rest] = args;
  // An old spelling of an option still works for one release, named in one line (docs/cli.md).
  const notice = (message: string): void => {
    streams.stderr.write(`chargeback: ${oneLine(message)}\n`);
  };
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        streams.stdout.write(`${HELP}\n`);
        return command === undefined ? 2 : 0;
      case '--version':
        streams.stdout.write(`${packageVersion()}\n`);
        return 0;
      case 'report': {
        const options = parseReportArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${REPORT_HELP}\n`);
          return 0;
        }
        const outcome = await runReport({ ...options, progress: progressOn(streams.stderr) });
        for (const warning of outcome.warnings) streams.stderr.write(`chargeback: warning: ${warning}\n`);
        streams.stdout.write(
          outcome.files.map((f) => `wrote ${f.path}\n`).join('') +
            `fleet ${outcome.fleetCost} = allocated ${outcome.allocatedCost} + idle ${outcome.idleCost}; ` +
            `${outcome.rejected} rejected line(s)\n`,
        );
        return 0;
      }
      case 'drift': {
        const options = parseDriftArgs(rest, notice);
        if (options === 'help') {
          streams.stdout.write(`${DRIFT_HELP}\n`);
          return 0;
        }
        const outcome = await runDrift(options);
        streams.stdout.write(
          `${outcome.report.alerts.length} alert(s), ${outcome.report.resolved.length} resolved, against ${outcome.report.baselineDays} day(s) of history; wrote ${outcome.alertsPath} and ${outcome.teamsPath}\n`,
        );
        if (outcome.postError === undefined) return 0;
        streams.stderr.write(`chargeback: posting to Teams failed: ${oneLine(outcome.postError)}\n`);
        return 1;
      }
      case 'gate': {
        const options = parseGateArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${GATE_HELP}\n`);
          return 0;
        }
        const now = () => new Date();
        const retrain = options.retrain
          ? await retrainFromEnv(env, now, (m) => streams.stderr.write(`chargeback: ${oneLine(m)}\n`))
          : undefined;
        const outcome = await runGate(options, { now, ...(retrain === undefined ? {} : { retrain }) });
        for (const warning of gateWarnings(outcome))
          streams.stderr.write(`chargeback: warning: ${warning}\n`);
        // The printed verdict and the exit status come from the one judgement.
        streams.stdout.write(`${[renderVerdict(outcome.judgement), ...gateNotes(outcome)].join('\n')}\n`);
        return exitCodeOf(outcome.judgement);
      }
      case 'evaluate': {
        const options = parseEvaluateArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${EVALUATE_HELP}\n`);
          return 0;
        }
        const outcome = await runEvaluate(options, { env });
        const summary = evaluateSummary(outcome);
        // With nowhere else to go, the event itself is the output.
        if (options.out === undefined && !options.send)
          streams.stdout.write(`${JSON.stringify(outcome.event)}\n`);
        for (const line of summary.stdout) streams.stdout.write(`${line}\n`);
        for (const line of summary.stderr) streams.stderr.write(`chargeback: ${oneLine(line)}\n`);
        return outcome.code;
      }
      case 'explain': {
        const options = parseExplainArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${EXPLAIN_HELP}\n`);
          return 0;
        }
        const { text, code } = await runExplain(options);
        (code === 0 ? streams.stdout : streams.stderr).write(`${code === 0 ? '' : 'chargeback: '}${text}\n`);
        return code;
      }
      case 'restate': {
        const options = parseRestateArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${RESTATE_HELP}\n`);
          return 0;
        }
        const { queued, queue } = await runRestate(options, env);
        const days = queued.map((m) => m.day);
        const span = days.length === 1 ? days[0] : `${days[0] ?? ''} to ${days.at(-1) ?? ''}`;
        streams.stdout.write(
          `marked ${days.length} day(s) for restatement (${span}) and queued them on ${queue}\n`,
        );
        return 0;
      }
      case 'simulate': {
        const options = parseSimulateArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${SIMULATE_HELP}\n`);
          return 0;
        }
        const outcome = await runSimulate(options);
        streams.stdout.write(
          `wrote ${outcome.events} events to ${options.out}` +
            (options.prometheus === undefined
              ? '\n'
              : `, and ${outcome.scrapes} Prometheus scrapes under ${options.prometheus.dir}\n`),
        );
        return 0;
      }
      case 'sidecar': {
        const settings = parseSidecarArgs(rest);
        if (settings === 'help') {
          streams.stdout.write(`${SIDECAR_HELP}\n`);
          return 0;
        }
        await runSidecar(settings, (m) => streams.stderr.write(`${m}\n`));
        return 0;
      }
      case 'calibrate': {
        const options = parseCalibrateArgs(rest, notice);
        if (options === 'help') {
          streams.stdout.write(`${CALIBRATE_HELP}\n`);
          return 0;
        }
        const outcome = await runCalibrate(options);
        streams.stdout.write(`${outcome.text}\n`);
        // Nothing trustworthy came out: the reason in one line, exit 1 (docs/cli.md).
        if (outcome.refusal === undefined) return 0;
        streams.stderr.write(`chargeback: calibrate: ${oneLine(outcome.refusal)}\n`);
        return 1;
      }
      case 'cost-gate': {
        const options = parseCostGateArgs(rest, notice);
        if (options === 'help') {
          streams.stdout.write(`${COST_GATE_HELP}\n`);
          return 0;
        }
        const outcome = await runCostGate(options);
        for (const warning of outcome.warnings)
          streams.stderr.write(`chargeback: warning: ${oneLine(warning)}\n`);
        streams.stdout.write(outcome.markdown);
        for (const reason of outcome.result.reasons) streams.stderr.write(`chargeback: ${oneLine(reason)}\n`);
        return outcome.code;
      }
      case 'replay-workload': {
        const options = parseReplayWorkloadArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${REPLAY_WORKLOAD_HELP}\n`);
          return 0;
        }
        const outcome = await runReplayWorkload(options, { env });
        const lines = replayWorkloadLines(options, outcome);
        for (const line of lines.stdout) streams.stdout.write(`${line}\n`);
        for (const line of lines.stderr) streams.stderr.write(`chargeback: ${oneLine(line)}\n`);
        return outcome.code;
      }
      case 'promote': {
        const options = parsePromoteArgs(rest);
        if (options === 'help') {
          streams.stdout.write(`${PROMOTE_HELP}\n`);
          return 0;
        }
        const outcome = await runPromote(options);
        streams.stdout.write(`${oneLine(outcome.text)}\n`);
        for (const reason of outcome.verdict.reasons)
          streams.stderr.write(`chargeback: ${oneLine(reason)}\n`);
        return outcome.code;
      }
      case 'monthly': {
        const options = parseMonthlyArgs(rest);
        streams.stdout.write(`${options === 'help' ? MONTHLY_HELP : await runMonthly(options)}\n`);
        return 0;
      }
      case 'fixed-cost': {
        const options = parseFixedCostArgs(rest, new Date(), notice);
        streams.stdout.write(`${options === 'help' ? FIXED_COST_HELP : await runFixedCost(options)}\n`);
        return 0;
      }
      case 'replay-deadletters': {
        const options = parseReplayArgs(rest, notice);
        streams.stdout.write(`${options === 'help' ? REPLAY_HELP : await runReplay(options)}\n`);
        return 0;
      }
      case 'sweep-orphans': {
        const options = parseSweepArgs(rest);
        streams.stdout.write(`${options === 'help' ? SWEEP_HELP : await runSweep(options)}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"; run 'chargeback --help'`);
    }
  } catch (error) {
    // Every failure ends in one line on stderr and an exit status (contracts.md §6), never a stack trace.
    if (error instanceof UsageError || error instanceof ConfigurationError) {
      streams.stderr.write(`chargeback: ${oneLine(error.message)}\n`);
      return 2;
    }
    if (error instanceof PermanentError) {
      streams.stderr.write(`chargeback: cannot produce the report: ${oneLine(error.message)}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    streams.stderr.write(`chargeback: ${command ?? ''} failed: ${oneLine(message)}\n`);
    return 1;
  }
}

// A path or value quoted in a message may hold a line break or a terminal escape of its own.
function oneLine(message: string): string {
  return escapeControlCharacters(message.replace(/\s*[\r\n]+\s*/g, ' '));
}
