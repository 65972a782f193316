# Derives a copy of a Redis test suite (unit/type/hash, unit/type/set) whose command tests can run
# against a server without Redis's value encodings (scripts/redis-suites.sh; README, "Redis's own
# test suites"). Mechanical: every rule below rewrites a construct, never a test's expected result,
# and is applied alike to Shoal and to the redis-server the counts are compared with. The derived
# file starts with a prelude (written by redis-suites.sh) defining the two no-op procs named here.
#
# 1. Encoding assertions (`assert_encoding listpack k`, `... intset ...`, `... hashtable ...`) are
#    not run: Shoal has none of Redis's encodings (docs/data-model.md, "OBJECT ENCODING").
s/\bassert_encoding\b/shoal_skipped_assert_encoding/g
# 2. CONFIG SET of an encoding threshold (hash-max-*, set-max-*, zset-max-*, list-max-*), directly
#    or through the suite's config_set helper, is not sent: Shoal refuses it (it has no encodings
#    to configure), and outside a test the refusal ends the whole suite. The tests that follow run
#    with whatever thresholds the server has (redis-server: its defaults).
s/\br config set \(\(hash\|set\|zset\|list\)-max-[a-z-]*\)/shoal_skipped_config_set \1/g
s/\bconfig_set \(\(hash\|set\|zset\|list\)-max-[a-z-]*\)/shoal_skipped_config_set \1/g
# 3. start_server overrides of those thresholds (set.tcl: "set-max-intset-entries" 512, which is
#    Redis's default anyway) are dropped: the harness applies overrides with CONFIG SET.
/^[[:space:]]*"\{0,1\}\(hash\|set\|zset\|list\)-max-[a-z-]*"\{0,1\}[[:space:]]\{1,\}[0-9]\{1,\}[[:space:]]*$/d
# 4. `assert_morethan [memory_usage k] 0` outside a test (hash.tcl, "coverage for
#    objectComputeSize": Redis's own memory accounting) is dropped: MEMORY USAGE is not a command
#    Shoal serves, and outside a test its error ends the suite.
/^[[:space:]]*assert_morethan \[memory_usage [^]]*\] 0[[:space:]]*$/d
# 5. A start_server's `save ""` override (set.tcl's large-memory block) is dropped: Shoal keeps
#    nothing on disk and refuses CONFIG SET; the block's tests run only where CONFIG SET
#    proto-max-bulk-len 10gb succeeds, which it does not on Shoal.
s/^start_server \[list overrides \[list save ""\] \] {$/start_server {} {/
