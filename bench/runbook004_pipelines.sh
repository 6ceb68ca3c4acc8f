#!/usr/bin/env bash
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The baseline of bench/audit_log_vs_pipelines.py: runbook 004's own daily and
# weekly shell pipelines (and its statistics and performance commands), copied
# verbatim from the runbook and run one after the other, as an operator would.
# Only the section markers and timings are added. Nothing here is used by
# opskit itself; the module opskit.ops.audit_log replaces all of it.
#
#   bench/runbook004_pipelines.sh DIR     # DIR holds .pi/tools and .pi/logs
#
# Each section prints "=== <name>" then the pipeline's output, then
# "--- seconds <elapsed>". Not `set -e`: the runbook's pipelines are not
# written for it (grep -c exits 1 on zero matches).
cd "$1" || exit 2

_t0=$EPOCHREALTIME
section() {
  if [[ -n "${_name:-}" ]]; then
    printf -- '--- seconds %s\n' "$(echo "$EPOCHREALTIME - $_t0" | bc)"
  fi
  _name=$1
  _t0=$EPOCHREALTIME
  printf '=== %s\n' "$1"
}

# ---------------------------------------------------------------- daily 1.1
section daily_1.1_ls_tools
ls -la .pi/tools/ | wc -l   # the listing itself is only looked at; its length stands for it

section daily_1.1_tool_count
ls .pi/tools/*.json 2>/dev/null | wc -l

section daily_1.1_log_exists
ls -la .pi/logs/dynamic-tools-audit.jsonl

# ---------------------------------------------------------------- daily 1.3
section daily_1.3_du_tools
du -sh .pi/tools/

section daily_1.3_du_logs
du -sh .pi/logs/

section daily_1.3_df
df -h .

# ---------------------------------------------------------------- daily 2.1
section daily_2.1_errors_newest
grep '"success":false' .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r '[.timestamp, .action, .toolName // "-", .errorMessage // "-"] | @tsv' | \
  tail -50

section daily_2.1_errors_by_message
grep '"success":false' .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r '.errorMessage // .action' | \
  sort | uniq -c | sort -rn

# ---------------------------------------------------------------- daily 2.2
section daily_2.2_errors_by_hour
grep '"success":false' .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r '.timestamp' | \
  cut -d'T' -f2 | \
  cut -d':' -f1 | \
  sort | uniq -c

section daily_2.2_errors_by_tool
grep '"success":false' .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r '.toolName // "unknown"' | \
  sort | uniq -c | sort -rn | head -10

# ---------------------------------------------------------------- daily 2.3
section daily_2.3_critical
grep 'verification.fail\|critical\|security' .pi/logs/dynamic-tools-audit.jsonl | \
  tail -20

# --------------------------------------------------------------- weekly 1.1
section weekly_1.1_ranking
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r 'select(.action == "tool.run") | .toolName' | \
  sort | uniq -c | sort -rn | head -20

section weekly_1.1_zero_runs
ls .pi/tools/*.json | xargs -I{} basename {} .json | while read id; do
  name=$(cat .pi/tools/${id}.json | jq -r '.name')
  count=$(grep -c "\"toolName\":\"${name}\"" .pi/logs/dynamic-tools-audit.jsonl 2>/dev/null || echo "0")
  echo "${name}: ${count}回"
done | sort -t: -k2 -n | head -20

# --------------------------------------------------------------- weekly 1.3
section weekly_1.3_success_rate
total=$(grep -c '"action":"tool.run"' .pi/logs/dynamic-tools-audit.jsonl)
success=$(grep '"action":"tool.run"' .pi/logs/dynamic-tools-audit.jsonl | grep -c '"success":true')
fail=$((total - success))

echo "総実行回数: ${total}"
echo "成功: ${success}"
echo "失敗: ${fail}"
echo "成功率: $(echo "scale=2; $success * 100 / $total" | bc)%"

# --------------------------------------------------------------- weekly 2.1
section weekly_2.1_actions
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r '.action' | \
  sort | uniq -c | sort -rn

section weekly_2.1_creates
cat .pi/logs/dynamic-tools-audit.jsonl | \
  grep '"action":"tool.create"' | \
  wc -l

section weekly_2.1_deletes
cat .pi/logs/dynamic-tools-audit.jsonl | \
  grep '"action":"tool.delete"' | \
  wc -l

# --------------------------------------------------------------- weekly 2.2
section weekly_2.2_verification
cat .pi/logs/dynamic-tools-audit.jsonl | \
  grep 'verification' | \
  jq -r '[.timestamp, .action, .details.reason // "-"] | @tsv' | \
  tail -50

section weekly_2.2_warnings
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r 'select(.details.warning != null) | [.timestamp, .toolName, .details.warning] | @tsv'

# --------------------------------------------------------------- weekly 2.3
section weekly_2.3_create_bursts
cat .pi/logs/dynamic-tools-audit.jsonl | \
  grep 'tool.create' | \
  jq -r '.timestamp' | \
  cut -d'T' -f1 | \
  sort | uniq -c | \
  awk '$1 > 10 {print "警告: " $2 " に " $1 " 件のツール作成"}'

section weekly_2.3_failing_tools
cat .pi/logs/dynamic-tools-audit.jsonl | \
  grep '"success":false' | \
  jq -r '.toolName' | \
  sort | uniq -c | \
  awk '$1 > 5 {print "警告: " $2 " が " $1 " 回失敗"}'

# ------------------------------------------------- log statistics (ログ分析)
section stats_entries_by_hour
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r '.timestamp' | \
  sed 's/T/\t/' | \
  cut -f2 | \
  cut -d: -f1 | \
  sort | uniq -c

section stats_avg_exec
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r 'select(.details.executionTimeMs != null) | .details.executionTimeMs' | \
  awk '{sum+=$1; count++} END {print "平均:", sum/count, "ms"}'

section stats_max_exec
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r 'select(.details.executionTimeMs != null) | .details.executionTimeMs' | \
  sort -n | tail -1

# ------------------------------------------- performance (パフォーマンス監視)
section perf_distribution
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r 'select(.details.executionTimeMs != null) | .details.executionTimeMs' | \
  sort -n | \
  awk '
    BEGIN { 
      count[0]=0; count[1]=0; count[2]=0; count[3]=0; count[4]=0; count[5]=0 
    }
    $1 < 100 { count[0]++ }
    $1 >= 100 && $1 < 500 { count[1]++ }
    $1 >= 500 && $1 < 1000 { count[2]++ }
    $1 >= 1000 && $1 < 5000 { count[3]++ }
    $1 >= 5000 && $1 < 10000 { count[4]++ }
    $1 >= 10000 { count[5]++ }
    END {
      print "< 100ms:", count[0]
      print "100-500ms:", count[1]
      print "500ms-1s:", count[2]
      print "1-5s:", count[3]
      print "5-10s:", count[4]
      print "> 10s:", count[5]
    }
  '

section perf_slow_tools
cat .pi/logs/dynamic-tools-audit.jsonl | \
  jq -r 'select(.action == "tool.run" and .details.executionTimeMs != null) | [.toolName, .details.executionTimeMs] | @tsv' | \
  awk '
    {
      sum[$1] += $2
      count[$1]++
    }
    END {
      for (tool in sum) {
        avg = sum[tool] / count[tool]
        if (avg > 5000) {
          printf "%s: 平均 %.0f ms (%d 回)\n", tool, avg, count[tool]
        }
      }
    }
  '

section end
