#!/usr/bin/env bash
# Grade a class on a Slurm cluster: one array task per shard (one GPU each), then a merge job
# that runs when every shard has finished.  No scheduler of our own: Slurm distributes.
#
#   autograder/runners/grade_class.sh SUBMISSIONS/ OUT/ [SHARDS] [PROFILE]
#
# Re-submitting after a failure re-grades only the students without a result.  The nodes need
# bubblewrap (the grading sandbox; `grade` refuses to grade without it, see docs/grading.md).
set -euo pipefail
subs=$(realpath "$1"); out=$(realpath -m "$2"); shards=${3:-8}; profile=${4:-gpu}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/logs"
array=$(sbatch --parsable --array=1-"$shards" --output="$out/logs/shard-%a.log" \
        --export=ALL,SUBS="$subs",OUT="$out",SHARDS="$shards",PROFILE="$profile" \
        "$here/grade_shard.sbatch")
sbatch --parsable --dependency=afterany:"$array" --output="$out/logs/merge.log" \
       --wrap="python -m autograder merge $out/shard-* --out $out/merged"
echo "submitted shards $array; merged gradebook will be in $out/merged"
