/**
 * The Azure ML command job a failed gate submits (SPEC 7 and 10), as plain data: the body of the
 * PUT `.../workspaces/{ws}/jobs/{name}` (api-version 2022-10-01) under `properties`, in the shape
 * @azure/arm-machinelearning's `CommandJob` model serialises. No SDK import: the adapter hands it over.
 */

export interface CommandJobBody {
  readonly jobType: 'Command';
  readonly displayName: string;
  readonly experimentName: string;
  readonly description: string;
  /** ARM id of the A100 compute cluster. */
  readonly computeId: string;
  readonly environmentId: string;
  readonly codeId: string;
  readonly command: string;
  readonly environmentVariables: Readonly<Record<string, string>>;
  /** One process per GPU on every node (SPEC 7). */
  readonly distribution: { readonly distributionType: 'PyTorch'; readonly processCountPerInstance: number };
  readonly resources: { readonly instanceCount: number };
  readonly inputs: Readonly<Record<string, JobInputBody>>;
  readonly outputs: Readonly<Record<string, JobOutputBody>>;
  /** `timeout` as an ISO 8601 duration, e.g. `PT6H`. */
  readonly limits: { readonly jobLimitsType: 'Command'; readonly timeout: string };
  /** Lineage (code commit, dataset, compute SKU, evaluation, reasons): searchable in the studio. */
  readonly tags: Readonly<Record<string, string>>;
  /** The same lineage, immutable once the job exists. */
  readonly properties: Readonly<Record<string, string>>;
}

export interface JobInputBody {
  readonly jobInputType: 'uri_folder' | 'uri_file' | 'mltable' | 'mlflow_model' | 'custom_model';
  /** e.g. `azureml:support-qa-train:3` for a registered asset by name and version. */
  readonly uri: string;
  readonly mode?: 'ReadOnlyMount' | 'Download';
}

export interface JobOutputBody {
  readonly jobOutputType: 'mlflow_model' | 'uri_folder' | 'custom_model';
  readonly mode?: 'ReadWriteMount' | 'Upload';
}
