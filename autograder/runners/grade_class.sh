#!/usr/bin/env bash
# Grade a class on a Slurm cluster: one array task per shard, then a merge job that starts when
# every shard has ended (afterany: a failed shard does not hold back the others' grades).
#
#   autograder/runners/grade_class.sh SUBMISSIONS/ OUT/ [SHARDS] [PROFILE]
#
# Shard i grades into OUT/shard-i (log: OUT/logs/shard-i.log), the merge job into OUT/merged.
# Jobs run in this repository's root (--chdir) with the submitting shell's python (its folder
# first on PATH), so submit from a shared disk with the environment activated.  Per-shard
# resources, from the environment:
#   GPUS=1  CPUS=4  MEM=32G  TIME=12:00:00   (GPUS=0: a CPU cluster, PROFILE defaults to cpu)
#   PYTHON=$(command -v python)    the grader's interpreter (same path on every node)
#   ARRAY=1-SHARDS                 the shards to (re)submit, e.g. ARRAY=3 or ARRAY=2,5
# and sbatch's own variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, ...).
# Re-submitting (all shards or ARRAY=...) re-grades only the students without a result, then
# merges again.  The nodes need bubblewrap (the grading sandbox; `grade` refuses without it).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2; }
GPUS=${GPUS:-1} CPUS=${CPUS:-4} MEM=${MEM:-32G} TIME=${TIME:-12:00:00}
PYTHON=${PYTHON:-$(command -v python || command -v python3 || true)}
[ -x "$PYTHON" ] || { echo "no python: activate the course environment or set PYTHON" >&2; exit 2; }
SUBS=$(realpath "$1") OUT=$(realpath -m "$2") SHARDS=${3:-8}
PROFILE=${4:-$([ "$GPUS" = 0 ] && echo cpu || echo gpu)}
export PYTHON SUBS OUT SHARDS PROFILE  # the shard script reads them (--export=ALL)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
gres=(); [ "$GPUS" = 0 ] || gres=(--gres="gpu:$GPUS")
q() { printf '%q' "$1"; }  # a path quoted for the merge job's shell
mkdir -p "$OUT/logs"
array=$(sbatch --parsable --array="${ARRAY:-1-$SHARDS}" --chdir="$repo" --export=ALL \
        ${gres[@]+"${gres[@]}"} --cpus-per-task="$CPUS" --mem="$MEM" --time="$TIME" \
        --output="$OUT/logs/shard-%a.log" --open-mode=append "$here/grade_shard.sbatch")
array=${array%%;*}  # --parsable prints "id" or "id;cluster"
merging="exec $(q "$PYTHON") -m autograder merge $(q "$OUT")/shard-* --out $(q "$OUT/merged")"
merge=$(sbatch --parsable --dependency=afterany:"$array" --chdir="$repo" --export=ALL \
        --job-name=hw-merge --cpus-per-task=1 --mem=4G --time=1:00:00 \
        --output="$OUT/logs/merge.log" --open-mode=append \
        --wrap="PATH=$(q "$(dirname "$PYTHON")"):\$PATH; $merging")
echo "submitted shards $array, merge ${merge%%;*}; merged gradebook will be in $OUT/merged"
