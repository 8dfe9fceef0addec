/* The NUMA-aware scheduler (src/actors/sched.h): affinity lists, the plan,
 * pinning and memory placement.
 *
 * Expectations about the host come from hwloc's own view of it, read here
 * independently, so the tests pass on any machine; the shape of plans on
 * machines we do not have (several nodes, hyperthreads) is checked on hwloc
 * synthetic topologies. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>
#include <hwloc.h>

#include "actors/sched.h"

#define AFFINITY_BITS 8192

/* ------------------------------------------------------------ the host, as hwloc sees it */

typedef struct host {
  hwloc_topology_t topo;
  hwloc_bitmap_t usable; /* allowed by the OS ∩ this thread's affinity */
} host_t;

static void host_load(host_t *h) {
  assert_int_equal(hwloc_topology_init(&h->topo), 0);
  hwloc_topology_set_flags(h->topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  assert_int_equal(hwloc_topology_load(h->topo), 0);
  h->usable = hwloc_bitmap_alloc();
  hwloc_bitmap_t bound = hwloc_bitmap_alloc();
  hwloc_bitmap_and(h->usable, hwloc_topology_get_allowed_cpuset(h->topo),
                   hwloc_topology_get_topology_cpuset(h->topo));
  if (hwloc_get_cpubind(h->topo, bound, HWLOC_CPUBIND_THREAD) == 0 &&
      hwloc_bitmap_intersects(bound, h->usable))
    hwloc_bitmap_and(h->usable, h->usable, bound);
  hwloc_bitmap_free(bound);
}

static void host_free(host_t *h) {
  hwloc_bitmap_free(h->usable);
  hwloc_topology_destroy(h->topo);
}

static hwloc_obj_t core_of(hwloc_topology_t topo, unsigned pu) {
  return hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, hwloc_get_pu_obj_by_os_index(topo, pu));
}

static vmx_sched_t *sched_new(const char *affinity, int node, const char *synthetic) {
  vmx_sched_opts_t o = VMX_SCHED_OPTS_INIT;
  vmx_sched_error_t err;
  vmx_sched_t *s;
  o.cpu_affinity = affinity;
  o.numa_node = node;
  o.synthetic = synthetic;
  int rc = vmx_sched_init(&s, &o, &err);
  if (rc)
    fail_msg("vmx_sched_init: %s", err.text);
  return s;
}

/* Expects vmx_sched_init to fail with code and a message containing words. */
static void init_fails(const char *affinity, int node, const char *synthetic, int code,
                       const char *words) {
  vmx_sched_opts_t o = VMX_SCHED_OPTS_INIT;
  vmx_sched_error_t err = {{0}};
  vmx_sched_t *s = (vmx_sched_t *)1;
  o.cpu_affinity = affinity;
  o.numa_node = node;
  o.synthetic = synthetic;
  assert_int_equal(vmx_sched_init(&s, &o, &err), code);
  assert_null(s);
  if (!strstr(err.text, words))
    fail_msg("error '%s' does not say '%s'", err.text, words);
}

/* ------------------------------------------------------------ affinity lists */

static void expect_list(const char *text, const unsigned *want, size_t n) {
  unsigned pus[16];
  size_t count = 99;
  vmx_sched_error_t err;
  int rc = vmx_sched_cpulist_parse(text, pus, 16, &count, &err);
  if (rc)
    fail_msg("'%s': %s", text, err.text);
  assert_int_equal(count, n);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(pus[i], want[i]);
}

static void test_cpulist_reads_numbers_and_ranges(void **state) {
  expect_list("0-3,6", (unsigned[]){0, 1, 2, 3, 6}, 5);
  expect_list("5", (unsigned[]){5}, 1);
  expect_list("7-7", (unsigned[]){7}, 1);
  expect_list("10,2-3", (unsigned[]){2, 3, 10}, 3);
  expect_list("65535", (unsigned[]){VMX_SCHED_PU_MAX}, 1);
}

static void test_cpulist_merges_duplicates_in_order(void **state) {
  expect_list("3,1,1-2,2", (unsigned[]){1, 2, 3}, 3);
  expect_list("0-4,2-6,0", (unsigned[]){0, 1, 2, 3, 4, 5, 6}, 7);
}

static void test_cpulist_rejects_bad_syntax_naming_the_offset(void **state) {
  static const struct {
    const char *text, *words;
  } cases[] = {
      {"", "empty list"},
      {"a", "expected a PU number at offset 0, found 'a'"},
      {",1", "expected a PU number at offset 0, found ','"},
      {"1,", "expected a PU number at offset 2, found the end"},
      {"0-3,,6", "expected a PU number at offset 4, found ','"},
      {"1-", "expected a PU number at offset 2, found the end"},
      {"-1", "expected a PU number at offset 0, found '-'"},
      {"1--2", "expected a PU number at offset 2, found '-'"},
      {"1 ,2", "expected ',' or '-' at offset 1, found ' '"},
      {"0x3", "expected ',' or '-' at offset 1, found 'x'"},
      {"1;2", "expected ',' or '-' at offset 1, found ';'"},
      {"1-2-3", "expected ',' or '-' at offset 3, found '-'"},
      {"2\n", "found byte 0x0a"},
      {"3-1", "the range 3-1 runs backwards"},
      {"65536", "at offset 0 is above 65535"},
      {"1,99999999999999999999999", "at offset 2 is above 65535"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned pus[4];
    size_t count;
    vmx_sched_error_t err = {{0}};
    assert_int_equal(vmx_sched_cpulist_parse(cases[i].text, pus, 4, &count, &err), VMX_EINVAL);
    if (!strstr(err.text, cases[i].words))
      fail_msg("'%s': error '%s' does not say '%s'", cases[i].text, err.text, cases[i].words);
  }
}

static void test_cpulist_counts_past_the_callers_room(void **state) {
  unsigned pus[4];
  size_t count;
  assert_int_equal(vmx_sched_cpulist_parse("0-9", pus, 4, &count, NULL), VMX_ERANGE);
  assert_int_equal(count, 10);
  for (unsigned i = 0; i < 4; i++)
    assert_int_equal(pus[i], i);
}

static void test_opts_arg_takes_both_spellings_and_leaves_others(void **state) {
  char *argv[] = {"vmx", "--cpu-affinity", "0-1", "--numa-node=2", "--numa-node", "auto", "prog", NULL};
  int argc = 7, i = 1;
  vmx_sched_opts_t o = VMX_SCHED_OPTS_INIT;
  assert_int_equal(vmx_sched_opts_arg(&o, argc, argv, &i, NULL), 1);
  assert_int_equal(i, 3);
  assert_string_equal(o.cpu_affinity, "0-1");
  assert_int_equal(vmx_sched_opts_arg(&o, argc, argv, &i, NULL), 1);
  assert_int_equal(i, 4);
  assert_int_equal(o.numa_node, 2);
  assert_int_equal(vmx_sched_opts_arg(&o, argc, argv, &i, NULL), 1);
  assert_int_equal(i, 6);
  assert_int_equal(o.numa_node, -1);
  assert_int_equal(vmx_sched_opts_arg(&o, argc, argv, &i, NULL), 0);
  assert_int_equal(i, 6);
}

static void test_opts_arg_rejects_missing_and_malformed_values(void **state) {
  static char *bad[][2] = {{"--cpu-affinity", NULL}, {"--numa-node", NULL}, {"--numa-node", "x"},
                           {"--numa-node", "-1"},    {"--numa-node", ""},   {"--numa-node", "99999999999"}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char *argv[] = {"vmx", bad[k][0], bad[k][1], NULL};
    int i = 1;
    vmx_sched_opts_t o = VMX_SCHED_OPTS_INIT;
    vmx_sched_error_t err = {{0}};
    assert_int_equal(vmx_sched_opts_arg(&o, bad[k][1] ? 3 : 2, argv, &i, &err), VMX_EINVAL);
    assert_int_equal(i, 1);
    assert_non_null(strstr(err.text, bad[k][0]));
  }
  char *argv[] = {"vmx", "--cpu-affinityX", "--numa", NULL};
  int i = 1;
  vmx_sched_opts_t o = VMX_SCHED_OPTS_INIT;
  assert_int_equal(vmx_sched_opts_arg(&o, 3, argv, &i, NULL), 0);
  i = 2;
  assert_int_equal(vmx_sched_opts_arg(&o, 3, argv, &i, NULL), 0);
}

/* ------------------------------------------------------------ init against the host */

static void test_init_rejects_a_pu_that_does_not_exist(void **state) {
  host_t h;
  host_load(&h);
  char list[32];
  snprintf(list, sizeof list, "%d", hwloc_bitmap_last(hwloc_topology_get_topology_cpuset(h.topo)) + 1);
  init_fails(list, -1, NULL, VMX_EINVAL, "does not exist");
  init_fails("0,65535", -1, NULL, VMX_EINVAL, "PU 65535 does not exist");
  init_fails("0-,1", -1, NULL, VMX_EINVAL, "offset 2");
  host_free(&h);
}

static void test_init_rejects_a_numa_node_that_does_not_exist(void **state) {
  host_t h;
  host_load(&h);
  int last = hwloc_bitmap_last(hwloc_topology_get_topology_nodeset(h.topo));
  init_fails(NULL, last + 1, NULL, VMX_EINVAL, "no such NUMA node");
  init_fails(NULL, 1 << 30, NULL, VMX_EINVAL, "no such NUMA node");
  host_free(&h);
}

static void test_init_accepts_every_usable_pu_as_affinity(void **state) {
  host_t h;
  host_load(&h);
  char list[1024];
  assert_true(hwloc_bitmap_list_snprintf(list, sizeof list, h.usable) < (int)sizeof list);
  vmx_sched_t *s = sched_new(list, -1, NULL);
  assert_int_equal(vmx_sched_pu_count(s), hwloc_bitmap_weight(h.usable));
  vmx_sched_close(s);
  host_free(&h);
}

static void test_init_accepts_each_node_with_usable_memory(void **state) {
  host_t h;
  host_load(&h);
  hwloc_obj_t node = NULL;
  while ((node = hwloc_get_next_obj_by_type(h.topo, HWLOC_OBJ_NUMANODE, node))) {
    if (!hwloc_bitmap_isset(hwloc_topology_get_allowed_nodeset(h.topo), node->os_index))
      continue;
    vmx_sched_t *s = sched_new(NULL, (int)node->os_index, NULL);
    assert_int_equal(vmx_sched_node(s), node->os_index);
    vmx_sched_close(s);
  }
  host_free(&h);
}

/* ------------------------------------------------------------ the plan on the host */

static void test_plan_stays_on_usable_pus_of_the_memory_node_and_spreads(void **state) {
  host_t h;
  host_load(&h);
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(h.topo, (unsigned)vmx_sched_node(s));
  assert_non_null(node);
  hwloc_bitmap_t want = hwloc_bitmap_alloc(), seen = hwloc_bitmap_alloc(), cores = hwloc_bitmap_alloc();
  hwloc_bitmap_and(want, h.usable, node->cpuset);
  if (hwloc_bitmap_iszero(want)) /* a node without PUs of its own: any usable PU */
    hwloc_bitmap_copy(want, h.usable);
  unsigned npu = (unsigned)hwloc_bitmap_weight(want);
  assert_int_equal(vmx_sched_pu_count(s), npu);

  /* Cores with a wanted PU: the first that many threads go on distinct cores. */
  unsigned pu;
  hwloc_bitmap_foreach_begin(pu, want) {
    hwloc_obj_t core = core_of(h.topo, pu);
    hwloc_bitmap_set(cores, core ? core->logical_index : 100000 + pu);
  }
  hwloc_bitmap_foreach_end();
  unsigned ncores = (unsigned)hwloc_bitmap_weight(cores);
  hwloc_bitmap_zero(cores);

  unsigned n = 2 * npu + 1;
  unsigned *plan = calloc(n, sizeof *plan);
  vmx_sched_plan(s, n, plan);
  for (unsigned i = 0; i < n; i++) {
    assert_true(hwloc_bitmap_isset(want, plan[i]));
    if (i < npu) {
      assert_false(hwloc_bitmap_isset(seen, plan[i])); /* each PU once before any twice */
      hwloc_bitmap_set(seen, plan[i]);
    } else {
      assert_int_equal(plan[i], plan[i % npu]); /* then the same order again */
    }
    if (i < ncores) {
      hwloc_obj_t core = core_of(h.topo, plan[i]);
      unsigned id = core ? core->logical_index : 100000 + plan[i];
      assert_false(hwloc_bitmap_isset(cores, id)); /* cores before hyperthreads */
      hwloc_bitmap_set(cores, id);
    }
    assert_int_equal(vmx_sched_loop_pu(s, i), plan[i]);
  }
  free(plan);
  hwloc_bitmap_free(want);
  hwloc_bitmap_free(seen);
  hwloc_bitmap_free(cores);
  vmx_sched_close(s);
  host_free(&h);
}

static void test_plan_of_a_thread_does_not_depend_on_the_thread_count(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  unsigned few[3], many[40];
  vmx_sched_plan(s, 3, few);
  vmx_sched_plan(s, 40, many);
  assert_memory_equal(few, many, sizeof few);
  vmx_sched_close(s);
}

static void test_plan_honours_the_affinity_list(void **state) {
  host_t h;
  host_load(&h);
  unsigned last = (unsigned)hwloc_bitmap_last(h.usable);
  char list[16];
  snprintf(list, sizeof list, "%u", last);
  vmx_sched_t *s = sched_new(list, -1, NULL);
  unsigned plan[5];
  vmx_sched_plan(s, 5, plan);
  for (unsigned i = 0; i < 5; i++)
    assert_int_equal(plan[i], last);
  assert_int_equal(vmx_sched_pu_count(s), 1);
  vmx_sched_close(s);
  host_free(&h);
}

/* ------------------------------------------------------------ the plan on other machines */

static void expect_plan(vmx_sched_t *s, const unsigned *want, unsigned n) {
  unsigned plan[64];
  assert_true(n <= 64);
  vmx_sched_plan(s, n, plan);
  for (unsigned i = 0; i < n; i++)
    if (plan[i] != want[i])
      fail_msg("loop thread %u on PU %u, expected %u (%s)", i, plan[i], want[i], vmx_sched_describe(s));
}

/* Linux numbers a core's hyperthreads apart (0 and 4 share a core). */
static void test_plan_spreads_cores_before_hyperthreads(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, "pack:1 core:4 pu:2(indexes=0,4,1,5,2,6,3,7)");
  expect_plan(s, (unsigned[]){0, 1, 2, 3, 4, 5, 6, 7, 0, 1}, 10);
  vmx_sched_close(s);
  /* Some firmware numbers them adjacently (0 and 1 share a core). */
  s = sched_new(NULL, -1, "pack:1 core:4 pu:2");
  expect_plan(s, (unsigned[]){0, 2, 4, 6, 1, 3, 5, 7, 0}, 9);
  vmx_sched_close(s);
}

static void test_plan_keeps_loop_threads_on_the_memory_node(void **state) {
  const char *two_nodes = "pack:2 numa:1 core:4 pu:2";
  vmx_sched_t *s = sched_new(NULL, 1, two_nodes);
  assert_int_equal(vmx_sched_node(s), 1);
  expect_plan(s, (unsigned[]){8, 10, 12, 14, 9, 11, 13, 15, 8}, 9);
  vmx_sched_close(s);
  s = sched_new(NULL, -1, two_nodes); /* a tie: the first node */
  assert_int_equal(vmx_sched_node(s), 0);
  expect_plan(s, (unsigned[]){0, 2, 4, 6, 1, 3, 5, 7, 0}, 9);
  assert_non_null(strstr(vmx_sched_describe(s), "memory on NUMA node 0"));
  vmx_sched_close(s);
}

static void test_auto_node_follows_most_of_the_affinity_list(void **state) {
  vmx_sched_t *s = sched_new("6-7,8-11", -1, "pack:2 numa:1 core:4 pu:2");
  assert_int_equal(vmx_sched_node(s), 1);
  /* The whole list is used, the memory node's PUs first. */
  expect_plan(s, (unsigned[]){8, 10, 9, 11, 6, 7, 8}, 7);
  vmx_sched_close(s);
}

static void test_affinity_and_node_together_keep_the_listed_pus_on_the_node(void **state) {
  vmx_sched_t *s = sched_new("6-11", 1, "pack:2 numa:1 core:4 pu:2");
  expect_plan(s, (unsigned[]){8, 10, 9, 11, 8}, 5);
  assert_non_null(strstr(vmx_sched_describe(s), "PUs 6-7 are not on node 1"));
  vmx_sched_close(s);
  /* None on the node: the list wins, and the user is told. */
  s = sched_new("0-3", 1, "pack:2 numa:1 core:4 pu:2");
  expect_plan(s, (unsigned[]){0, 2, 1, 3}, 4);
  assert_non_null(strstr(vmx_sched_describe(s), "none of the --cpu-affinity PUs is on node 1"));
  vmx_sched_close(s);
}

static void test_init_rejects_unknown_nodes_and_pus_of_other_machines(void **state) {
  init_fails(NULL, 2, "pack:2 numa:1 core:4 pu:2", VMX_EINVAL, "--numa-node 2: no such NUMA node (nodes: 0-1)");
  init_fails("15-16", -1, "pack:2 numa:1 core:4 pu:2", VMX_EINVAL, "PU 16 does not exist (PUs: 0-15)");
  init_fails(NULL, -1, "not a machine", VMX_EINVAL, "synthetic topology");
}

/* ------------------------------------------------------------ pinning */

typedef struct pin_job {
  vmx_sched_t *s;
  unsigned npu;
  int failures;
  char why[300];
} pin_job_t;

/* The only CPU the calling thread may run on, or -1. */
static int thread_only_cpu(void) {
  cpu_set_t *set = CPU_ALLOC(AFFINITY_BITS);
  size_t size = CPU_ALLOC_SIZE(AFFINITY_BITS);
  int only = -1;
  if (pthread_getaffinity_np(pthread_self(), size, set) == 0 && CPU_COUNT_S(size, set) == 1)
    for (int cpu = 0; cpu < AFFINITY_BITS; cpu++)
      if (CPU_ISSET_S((size_t)cpu, size, set))
        only = cpu;
  CPU_FREE(set);
  return only;
}

static void *pin_every_planned_pu(void *arg) {
  pin_job_t *job = arg;
  for (unsigned loop = 0; loop < job->npu; loop++) {
    vmx_sched_error_t err;
    unsigned pu = 99999;
    int rc = vmx_sched_pin_loop(job->s, loop, &pu, &err);
    if (rc) {
      snprintf(job->why, sizeof job->why, "loop %u: %s", loop, err.text);
      job->failures++;
    } else if (pu != vmx_sched_loop_pu(job->s, loop) || thread_only_cpu() != (int)pu) {
      snprintf(job->why, sizeof job->why, "loop %u: planned PU %u, affinity says %d", loop, pu,
               thread_only_cpu());
      job->failures++;
    }
  }
  return NULL;
}

/* Pins in a thread of its own, so the test runner's thread stays free. */
static void test_pin_loop_pins_the_calling_thread_to_its_planned_pu(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  int before = thread_only_cpu();
  pin_job_t job = {.s = s, .npu = vmx_sched_pu_count(s) < 64 ? vmx_sched_pu_count(s) : 64};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, pin_every_planned_pu, &job), 0);
  pthread_join(t, NULL);
  if (job.failures)
    fail_msg("%d failures, last: %s", job.failures, job.why);
  assert_int_equal(thread_only_cpu(), before);
  vmx_sched_close(s);
}

static void *pin_to_last_usable(void *arg) {
  pin_job_t *job = arg;
  host_t h;
  host_load(&h);
  unsigned pu = (unsigned)hwloc_bitmap_last(h.usable);
  vmx_sched_error_t err;
  if (vmx_sched_pin_self(job->s, pu, &err))
    snprintf(job->why, sizeof job->why, "%s", err.text), job->failures++;
  else if (thread_only_cpu() != (int)pu)
    snprintf(job->why, sizeof job->why, "pinned to %u, affinity says %d", pu, thread_only_cpu()),
        job->failures++;
  host_free(&h);
  return NULL;
}

static void test_pin_self_pins_to_any_usable_pu(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  pin_job_t job = {.s = s};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, pin_to_last_usable, &job), 0);
  pthread_join(t, NULL);
  if (job.failures)
    fail_msg("%s", job.why);
  vmx_sched_close(s);
}

static void test_pin_self_refuses_pus_it_may_not_use(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  vmx_sched_error_t err = {{0}};
  int before = thread_only_cpu();
  assert_int_equal(vmx_sched_pin_self(s, VMX_SCHED_PU_MAX, &err), VMX_EINVAL);
  assert_non_null(strstr(err.text, "not a usable PU"));
  assert_int_equal(thread_only_cpu(), before);
  vmx_sched_close(s);
  s = sched_new(NULL, -1, "pack:1 core:2 pu:1");
  assert_int_equal(vmx_sched_pin_self(s, 0, &err), VMX_ENOSYS);
  assert_int_equal(vmx_sched_pin_loop(s, 0, NULL, &err), VMX_ENOSYS);
  vmx_sched_close(s);
}

/* ------------------------------------------------------------ memory placement */

static void test_membind_places_an_anonymous_mapping_or_says_why_not(void **state) {
  host_t h;
  host_load(&h);
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  size_t len = 1u << 20;
  void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(mem != MAP_FAILED);
  vmx_sched_error_t err = {{0}};
  int rc = vmx_sched_membind(s, mem, len, &err);
  memset(mem, 1, len); /* usable either way */
  if (rc == 0) {
    hwloc_nodeset_t where = hwloc_bitmap_alloc();
    assert_int_equal(hwloc_get_area_memlocation(h.topo, mem, len, where, HWLOC_MEMBIND_BYNODESET), 0);
    assert_true(hwloc_bitmap_isset(where, (unsigned)vmx_sched_node(s)));
    hwloc_bitmap_free(where);
  } else {
    assert_int_equal(rc, VMX_ENOSYS);
    assert_memory_equal(err.text, VMX_SCHED_MEMBIND_FALLBACK, strlen(VMX_SCHED_MEMBIND_FALLBACK));
    print_message("membind fell back: %s\n", err.text);
  }
  /* An unaligned range inside the mapping is rounded out, not refused. */
  rc = vmx_sched_membind(s, (char *)mem + 100, 5000, &err);
  assert_true(rc == 0 || rc == VMX_ENOSYS);
  assert_int_equal(vmx_sched_membind(s, mem, 0, &err), 0);
  munmap(mem, len);
  vmx_sched_close(s);
  host_free(&h);
}

static void test_membind_reports_an_unmapped_range(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  size_t len = 1u << 16;
  void *mem = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(mem != MAP_FAILED);
  munmap(mem, len);
  vmx_sched_error_t err;
  int rc = vmx_sched_membind(s, mem, len, &err);
  assert_true(rc == VMX_EFAULT || rc == VMX_ENOSYS);
  vmx_sched_close(s);
}

/* A child process whose mbind() fails with EPERM, as in containers without
 * CAP_SYS_NICE: placement must come back as the documented fallback. */
static void test_membind_falls_back_when_the_os_refuses(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mbind, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
      _exit(77);
    size_t len = 1u << 20;
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    vmx_sched_error_t err = {{0}};
    int rc = vmx_sched_membind(s, mem, len, &err);
    int fallback = !strncmp(err.text, VMX_SCHED_MEMBIND_FALLBACK, strlen(VMX_SCHED_MEMBIND_FALLBACK)) &&
                   strstr(err.text, "Operation not permitted");
    _exit(rc == VMX_ENOSYS && fallback ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  vmx_sched_close(s);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77)
    skip(); /* no seccomp here */
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A thread bound to the node allocates there, and so do the threads it
 * creates afterwards (run-user's guest threads). */
static void *touch_and_locate(void *arg) {
  host_t *h = arg;
  size_t len = 1u << 20;
  void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(mem, 2, len);
  hwloc_nodeset_t where = hwloc_bitmap_alloc();
  intptr_t node = -1;
  if (hwloc_get_area_memlocation(h->topo, mem, len, where, HWLOC_MEMBIND_BYNODESET) == 0 &&
      hwloc_bitmap_weight(where) == 1)
    node = hwloc_bitmap_first(where);
  hwloc_bitmap_free(where);
  munmap(mem, len);
  return (void *)node;
}

static void *bind_thread(void *arg) {
  host_t *h = arg;
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  vmx_sched_error_t err = {{0}};
  int rc = vmx_sched_membind_thread(s, &err);
  intptr_t result = -2;
  if (rc == 0) {
    hwloc_nodeset_t set = hwloc_bitmap_alloc();
    hwloc_membind_policy_t policy;
    assert_int_equal(hwloc_get_membind(h->topo, set, &policy,
                                       HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET), 0);
    assert_int_equal(policy, HWLOC_MEMBIND_BIND);
    assert_true(hwloc_bitmap_isset(set, (unsigned)vmx_sched_node(s)));
    hwloc_bitmap_free(set);
    pthread_t child;
    void *where;
    assert_int_equal(pthread_create(&child, NULL, touch_and_locate, h), 0);
    assert_int_equal(pthread_join(child, &where), 0);
    result = (intptr_t)where;
    assert_int_equal(result, vmx_sched_node(s));
  } else {
    assert_int_equal(rc, VMX_ENOSYS);
    print_message("thread membind fell back: %s\n", err.text);
  }
  vmx_sched_close(s);
  return NULL;
}

static void test_membind_thread_binds_it_and_its_children(void **state) {
  host_t h;
  host_load(&h);
  pthread_t t; /* a thread of its own: the test runner's policy stays */
  assert_int_equal(pthread_create(&t, NULL, bind_thread, &h), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  vmx_sched_t *s = sched_new(NULL, 1, "pack:2 numa:1 core:1 pu:1");
  vmx_sched_error_t err;
  assert_int_equal(vmx_sched_membind_thread(s, &err), VMX_ENOSYS);
  vmx_sched_close(s);
  host_free(&h);
}

static void test_membind_on_a_synthetic_machine_falls_back(void **state) {
  vmx_sched_t *s = sched_new(NULL, 1, "pack:2 numa:1 core:1 pu:1");
  char page[64];
  vmx_sched_error_t err;
  assert_int_equal(vmx_sched_membind(s, page, sizeof page, &err), VMX_ENOSYS);
  assert_memory_equal(err.text, VMX_SCHED_MEMBIND_FALLBACK " 1", strlen(VMX_SCHED_MEMBIND_FALLBACK " 1"));
  vmx_sched_close(s);
}

/* ------------------------------------------------------------ words */

static void test_pu_describe_names_core_and_node(void **state) {
  vmx_sched_t *s = sched_new(NULL, -1, "pack:2 numa:1 core:4 pu:2");
  char text[64];
  assert_int_equal(vmx_sched_pu_describe(s, 11, text, sizeof text), 0);
  assert_string_equal(text, "PU 11 (core 5, node 1)");
  assert_int_equal(vmx_sched_pu_describe(s, 16, text, sizeof text), VMX_EINVAL);
  assert_string_equal(text, "PU 16 (does not exist)");
  vmx_sched_close(s);
}

static void test_print_topology_shows_machine_and_plan(void **state) {
  host_t h;
  host_load(&h);
  vmx_sched_t *s = sched_new(NULL, -1, NULL);
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  assert_int_equal(vmx_sched_print_topology(s, out, 3), 0);
  fclose(out);
  char want[96];
  snprintf(want, sizeof want, "%d PUs", hwloc_get_nbobjs_by_type(h.topo, HWLOC_OBJ_PU));
  assert_non_null(strstr(text, want));
  snprintf(want, sizeof want, "node %d: ", vmx_sched_node(s));
  assert_non_null(strstr(text, want));
  assert_non_null(strstr(text, "plan for a VM with 3 loop threads"));
  char pu[64];
  vmx_sched_pu_describe(s, vmx_sched_loop_pu(s, 2), pu, sizeof pu);
  snprintf(want, sizeof want, "  loop thread 2 -> %s\n", pu);
  assert_non_null(strstr(text, want));
  assert_non_null(strstr(text, vmx_sched_describe(s)));
  if (hwloc_get_nbobjs_by_type(h.topo, HWLOC_OBJ_NUMANODE) == 1)
    assert_non_null(strstr(text, "one NUMA node"));
  free(text);
  vmx_sched_close(s);
  host_free(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cpulist_reads_numbers_and_ranges),
      cmocka_unit_test(test_cpulist_merges_duplicates_in_order),
      cmocka_unit_test(test_cpulist_rejects_bad_syntax_naming_the_offset),
      cmocka_unit_test(test_cpulist_counts_past_the_callers_room),
      cmocka_unit_test(test_opts_arg_takes_both_spellings_and_leaves_others),
      cmocka_unit_test(test_opts_arg_rejects_missing_and_malformed_values),
      cmocka_unit_test(test_init_rejects_a_pu_that_does_not_exist),
      cmocka_unit_test(test_init_rejects_a_numa_node_that_does_not_exist),
      cmocka_unit_test(test_init_accepts_every_usable_pu_as_affinity),
      cmocka_unit_test(test_init_accepts_each_node_with_usable_memory),
      cmocka_unit_test(test_plan_stays_on_usable_pus_of_the_memory_node_and_spreads),
      cmocka_unit_test(test_plan_of_a_thread_does_not_depend_on_the_thread_count),
      cmocka_unit_test(test_plan_honours_the_affinity_list),
      cmocka_unit_test(test_plan_spreads_cores_before_hyperthreads),
      cmocka_unit_test(test_plan_keeps_loop_threads_on_the_memory_node),
      cmocka_unit_test(test_auto_node_follows_most_of_the_affinity_list),
      cmocka_unit_test(test_affinity_and_node_together_keep_the_listed_pus_on_the_node),
      cmocka_unit_test(test_init_rejects_unknown_nodes_and_pus_of_other_machines),
      cmocka_unit_test(test_pin_loop_pins_the_calling_thread_to_its_planned_pu),
      cmocka_unit_test(test_pin_self_pins_to_any_usable_pu),
      cmocka_unit_test(test_pin_self_refuses_pus_it_may_not_use),
      cmocka_unit_test(test_membind_places_an_anonymous_mapping_or_says_why_not),
      cmocka_unit_test(test_membind_reports_an_unmapped_range),
      cmocka_unit_test(test_membind_falls_back_when_the_os_refuses),
      cmocka_unit_test(test_membind_on_a_synthetic_machine_falls_back),
      cmocka_unit_test(test_membind_thread_binds_it_and_its_children),
      cmocka_unit_test(test_pu_describe_names_core_and_node),
      cmocka_unit_test(test_print_topology_shows_machine_and_plan),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
