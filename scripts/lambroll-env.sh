#!/usr/bin/env bash
# Write every source's lambroll settings to DIR/<source>.sh, one file of `export K='V'` lines a source,
# read from the SSM parameters under PATH that Terraform writes (output lambroll_env_path,
# e.g. /webhook/lambroll-env). CI sources each file in a subshell before `lambroll diff|deploy` of that
# source's functions; nothing reads the Terraform state.
#
#   scripts/lambroll-env.sh PATH DIR
#
# Needs the AWS CLI v2, jq, and ssm:GetParametersByPath on PATH. Exit 1 when PATH holds no parameter.
set -euo pipefail

if [[ $# -ne 2 || $1 != /* ]]; then
  echo "usage: $0 /<name>/lambroll-env DIR" >&2
  exit 2
fi
path=${1%/} dir=$2

parameters=$(aws ssm get-parameters-by-path --path "$path" --output json)
names=$(jq -r '.Parameters[].Name' <<<"$parameters")
if [[ -z $names ]]; then
  echo "lambroll-env.sh: no parameter under $path: is LAMBROLL_ENV_PATH Terraform's output lambroll_env_path, and applied?" >&2
  exit 1
fi
mkdir -p "$dir"
while IFS= read -r name; do
  source_name=${name##*/}
  jq -r --arg name "$name" '.Parameters[] | select(.Name == $name) | .Value' <<<"$parameters" >"$dir/$source_name.sh"
  echo "$source_name: $name"
done <<<"$names"
