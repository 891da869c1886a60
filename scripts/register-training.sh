#!/usr/bin/env bash
# Registers the retraining job's code asset (training/) and environment (training/environment/)
# in the Azure ML workspace, and prints the AML_CODE_ID and AML_ENVIRONMENT_ID the Function App
# and `chargeback gate --retrain` submit jobs with (docs/retraining.md).
#
#   scripts/register-training.sh -g RESOURCE_GROUP -w WORKSPACE [-a FUNCTION_APP]
#
# With -a, the two ids are also written to the Function App's settings. Needs the Azure CLI with
# the `ml` extension (az extension add -n ml) and a login that may create assets in the workspace.
# Versions are derived from the content: the code asset's from the git commit of training/, the
# environment's from the SHA-256 of its definition, so running it again registers nothing new.
set -euo pipefail

usage() { echo "usage: $0 -g RESOURCE_GROUP -w WORKSPACE [-a FUNCTION_APP]" >&2; exit 2; }
group="" workspace="" app=""
while getopts "g:w:a:" opt; do
  case "$opt" in
    g) group="$OPTARG" ;;
    w) workspace="$OPTARG" ;;
    a) app="$OPTARG" ;;
    *) usage ;;
  esac
done
[[ -n "$group" && -n "$workspace" ]] || usage

root="$(cd "$(dirname "$0")/.." && pwd)"
code_name="sft-train-code"
env_name="sft-train"
base_image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"

if ! git -C "$root" diff --quiet HEAD -- training; then
  echo "training/ has uncommitted changes: commit them, so the code asset's version names its commit" >&2
  exit 1
fi
code_version="$(git -C "$root" log -1 --format=%h -- training)"
env_version="$(sha256sum "$root/training/environment/conda.yaml" | cut -c1-12)"
ml=(--resource-group "$group" --workspace-name "$workspace")

if az ml code show --name "$code_name" --version "$code_version" "${ml[@]}" >/dev/null 2>&1; then
  echo "code asset $code_name:$code_version exists" >&2
else
  az ml code create --name "$code_name" --version "$code_version" --path "$root/training" "${ml[@]}" >/dev/null
fi
if az ml environment show --name "$env_name" --version "$env_version" "${ml[@]}" >/dev/null 2>&1; then
  echo "environment $env_name:$env_version exists" >&2
else
  az ml environment create --name "$env_name" --version "$env_version" \
    --conda-file "$root/training/environment/conda.yaml" --image "$base_image" "${ml[@]}" >/dev/null
fi

code_id="$(az ml code show --name "$code_name" --version "$code_version" "${ml[@]}" --query id -o tsv)"
env_id="$(az ml environment show --name "$env_name" --version "$env_version" "${ml[@]}" --query id -o tsv)"
echo "AML_CODE_ID=$code_id"
echo "AML_ENVIRONMENT_ID=$env_id"
if [[ -n "$app" ]]; then
  az functionapp config appsettings set --name "$app" --resource-group "$group" \
    --settings "AML_CODE_ID=$code_id" "AML_ENVIRONMENT_ID=$env_id" >/dev/null
  echo "set on the Function App $app" >&2
fi
