/* The NUMA-aware scheduler (sched.h), on hwloc 2. */
#include "actors/sched.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hwloc.h>

#include "base/log.h"

_Static_assert(HWLOC_API_VERSION >= 0x00020000, "vmx needs hwloc 2");

struct vmx_sched {
  hwloc_topology_t topo;
  bool synthetic;
  hwloc_bitmap_t usable;   /* PUs vmx may run on: the OS's allowed ∩ the creator's affinity */
  hwloc_bitmap_t loop_pus; /* the PUs of order[] */
  hwloc_nodeset_t nodeset; /* {node} */
  int node;                /* OS number of the node holding the VM's memory */
  const char *node_why;    /* static text: how the node was chosen */
  unsigned *order;         /* loop thread i runs on order[i % norder] */
  unsigned norder;
  unsigned ncores;         /* distinct cores among order[] */
  char note[192];          /* a warning about the user's choices, or "" */
  char summary[448];
};

__attribute__((format(printf, 3, 4))) static int sched_fail(vmx_sched_error_t *err, int code,
                                                             const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* "0-3,6" into buf; "" for an empty set. */
static const char *bitmap_text(hwloc_const_bitmap_t set, char *buf, size_t len) {
  if (hwloc_bitmap_list_snprintf(buf, len, set) < 0 && len)
    buf[0] = '\0';
  return buf;
}

/* ------------------------------------------------------------ options */

/* Describes the character at p for an error message. */
static const char *char_text(const char *p, char *buf, size_t len) {
  if (!*p)
    snprintf(buf, len, "the end");
  else if (*p >= 0x20 && *p < 0x7f)
    snprintf(buf, len, "'%c'", *p);
  else
    snprintf(buf, len, "byte 0x%02x", (unsigned char)*p);
  return buf;
}

static int cpulist_number(const char *text, const char **p, unsigned *out, vmx_sched_error_t *err) {
  const char *at = *p;
  char seen[16];
  if (*at < '0' || *at > '9')
    return sched_fail(err, VMX_EINVAL, "--cpu-affinity '%.64s': expected a PU number at offset %td, found %s",
                      text, at - text, char_text(at, seen, sizeof seen));
  unsigned long v = 0;
  for (; *at >= '0' && *at <= '9'; at++) {
    v = v * 10 + (unsigned)(*at - '0');
    if (v > VMX_SCHED_PU_MAX)
      return sched_fail(err, VMX_EINVAL, "--cpu-affinity '%.64s': the PU number at offset %td is above %u",
                        text, *p - text, VMX_SCHED_PU_MAX);
  }
  *out = (unsigned)v;
  *p = at;
  return 0;
}

/* The grammar of sched.h's vmx_sched_cpulist_parse(), into a bitmap. */
static int cpulist_parse(const char *text, hwloc_bitmap_t set, vmx_sched_error_t *err) {
  if (!*text)
    return sched_fail(err, VMX_EINVAL, "--cpu-affinity '': empty list (expected PUs like 0-3,6)");
  const char *p = text;
  for (;;) {
    unsigned lo, hi;
    int rc = cpulist_number(text, &p, &lo, err);
    if (rc)
      return rc;
    hi = lo;
    if (*p == '-') {
      p++;
      if ((rc = cpulist_number(text, &p, &hi, err)))
        return rc;
      if (hi < lo)
        return sched_fail(err, VMX_EINVAL, "--cpu-affinity '%.64s': the range %u-%u runs backwards",
                          text, lo, hi);
    }
    if (hwloc_bitmap_set_range(set, lo, (int)hi) < 0)
      return sched_fail(err, VMX_ENOMEM, "--cpu-affinity: %s", vmx_strerror(VMX_ENOMEM));
    if (!*p)
      return 0;
    if (*p != ',') {
      char seen[16];
      return sched_fail(err, VMX_EINVAL,
                        "--cpu-affinity '%.64s': expected ',' or '-' at offset %td, found %s", text,
                        p - text, char_text(p, seen, sizeof seen));
    }
    p++;
  }
}

int vmx_sched_cpulist_parse(const char *text, unsigned *pus, size_t cap, size_t *count,
                            vmx_sched_error_t *err) {
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  if (!set)
    return sched_fail(err, VMX_ENOMEM, "--cpu-affinity: %s", vmx_strerror(VMX_ENOMEM));
  int rc = cpulist_parse(text, set, err);
  size_t n = 0;
  if (!rc) {
    unsigned id;
    hwloc_bitmap_foreach_begin(id, set) {
      if (n < cap)
        pus[n] = id;
      n++;
    }
    hwloc_bitmap_foreach_end();
    if (n > cap)
      rc = sched_fail(err, VMX_ERANGE, "--cpu-affinity '%.64s': %zu PUs, room for %zu", text, n, cap);
  }
  *count = n;
  hwloc_bitmap_free(set);
  return rc;
}

/* If argv[*i] is --name VALUE or --name=VALUE: sets *value (NULL when the
 * value is missing) and returns true. */
static bool opt_match(const char *name, int argc, char **argv, int *i, const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n))
    return false;
  if (a[n] == '=') {
    *value = a + n + 1;
    *i += 1;
    return true;
  }
  if (a[n])
    return false;
  *value = *i + 1 < argc ? argv[*i + 1] : NULL;
  *i += *value ? 2 : 1;
  return true;
}

/* A decimal number in [0, max], digits only. */
static bool parse_uint(const char *text, unsigned long max, unsigned long *out) {
  unsigned long v = 0;
  if (!*text)
    return false;
  for (const char *p = text; *p; p++) {
    if (*p < '0' || *p > '9')
      return false;
    v = v * 10 + (unsigned)(*p - '0');
    if (v > max)
      return false;
  }
  *out = v;
  return true;
}

int vmx_sched_opts_arg(vmx_sched_opts_t *o, int argc, char **argv, int *i,
                       vmx_sched_error_t *err) {
  int at = *i;
  const char *value;
  if (opt_match("--cpu-affinity", argc, argv, &at, &value)) {
    if (!value)
      return sched_fail(err, VMX_EINVAL, "--cpu-affinity needs a list of PUs, e.g. 0-3,6");
    o->cpu_affinity = value;
  } else if (opt_match("--numa-node", argc, argv, &at, &value)) {
    unsigned long node;
    if (!value)
      return sched_fail(err, VMX_EINVAL, "--numa-node needs a NUMA node number or 'auto'");
    if (!strcmp(value, "auto"))
      o->numa_node = -1;
    else if (parse_uint(value, INT_MAX, &node))
      o->numa_node = (int)node;
    else
      return sched_fail(err, VMX_EINVAL, "--numa-node '%.32s': expected a NUMA node number or 'auto'",
                        value);
  } else {
    return 0;
  }
  *i = at;
  return 1;
}

/* ------------------------------------------------------------ topology helpers */

/* The NUMA node local to PU `pu`: the first (lowest logical index) whose
 * cpuset holds it, or NULL. Machines with several memory kinds per PU (DRAM
 * and HBM) list DRAM first. */
static hwloc_obj_t pu_node(hwloc_topology_t topo, unsigned pu) {
  hwloc_obj_t node = NULL;
  while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)))
    if (hwloc_bitmap_isset(node->cpuset, pu))
      return node;
  return NULL;
}

int vmx_sched_pu_describe(const vmx_sched_t *s, unsigned pu, char *buf, size_t len) {
  hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(s->topo, pu);
  if (!obj) {
    snprintf(buf, len, "PU %u (does not exist)", pu);
    return VMX_EINVAL;
  }
  hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(s->topo, HWLOC_OBJ_CORE, obj);
  hwloc_obj_t node = pu_node(s->topo, pu);
  char core_text[24] = "no core", node_text[24] = "no node";
  if (core)
    snprintf(core_text, sizeof core_text, "core %u", core->logical_index);
  if (node)
    snprintf(node_text, sizeof node_text, "node %u", node->os_index);
  snprintf(buf, len, "PU %u (%s, %s)", pu, core_text, node_text);
  return 0;
}

/* ------------------------------------------------------------ init */

static int topo_load(vmx_sched_t *s, const vmx_sched_opts_t *o, vmx_sched_error_t *err) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) < 0)
    return sched_fail(err, VMX_ENOMEM, "hwloc: %s", vmx_strerror(VMX_ENOMEM));
  s->topo = topo;
  if (o->synthetic) {
    if (hwloc_topology_set_synthetic(topo, o->synthetic) < 0)
      return sched_fail(err, VMX_EINVAL, "synthetic topology '%.64s': hwloc cannot read it",
                        o->synthetic);
    s->synthetic = true;
  } else {
    /* Keep PUs the cgroup forbids, so that naming one gets "not usable"
     * rather than "does not exist". */
    hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  }
  if (hwloc_topology_load(topo) < 0)
    return sched_fail(err, VMX_EIO, "hwloc cannot read the host's topology: %s", strerror(errno));
  return 0;
}

/* The OS's allowed PUs, narrowed to the calling thread's affinity (what
 * `taskset` gave vmx) unless that leaves nothing. */
static int usable_compute(vmx_sched_t *s, vmx_sched_error_t *err) {
  s->usable = hwloc_bitmap_alloc();
  hwloc_bitmap_t bound = hwloc_bitmap_alloc();
  if (!s->usable || !bound) {
    hwloc_bitmap_free(bound);
    return sched_fail(err, VMX_ENOMEM, "scheduler: %s", vmx_strerror(VMX_ENOMEM));
  }
  hwloc_bitmap_and(s->usable, hwloc_topology_get_allowed_cpuset(s->topo),
                   hwloc_topology_get_topology_cpuset(s->topo));
  if (!s->synthetic && hwloc_get_cpubind(s->topo, bound, HWLOC_CPUBIND_THREAD) == 0 &&
      hwloc_bitmap_intersects(bound, s->usable))
    hwloc_bitmap_and(s->usable, s->usable, bound);
  hwloc_bitmap_free(bound);
  if (hwloc_bitmap_iszero(s->usable))
    return sched_fail(err, VMX_EIO, "hwloc reports no PU vmx may run on");
  return 0;
}

/* Parses o->cpu_affinity into *listed and checks that every PU exists and
 * is usable. */
static int affinity_check(vmx_sched_t *s, const char *list, hwloc_bitmap_t listed,
                          vmx_sched_error_t *err) {
  int rc = cpulist_parse(list, listed, err);
  if (rc)
    return rc;
  hwloc_bitmap_t bad = hwloc_bitmap_alloc();
  char have[128], named[128];
  if (!bad)
    return VMX_ENOMEM;
  hwloc_const_bitmap_t all = hwloc_topology_get_topology_cpuset(s->topo);
  if (hwloc_bitmap_andnot(bad, listed, all) == 0 && !hwloc_bitmap_iszero(bad))
    rc = sched_fail(err, VMX_EINVAL, "--cpu-affinity '%.64s': %s %s %s not exist (PUs: %s)", list,
                    hwloc_bitmap_weight(bad) == 1 ? "PU" : "PUs", bitmap_text(bad, named, sizeof named),
                    hwloc_bitmap_weight(bad) == 1 ? "does" : "do", bitmap_text(all, have, sizeof have));
  else if (hwloc_bitmap_andnot(bad, listed, s->usable) == 0 && !hwloc_bitmap_iszero(bad))
    rc = sched_fail(err, VMX_EINVAL,
                    "--cpu-affinity '%.64s': %s %s %s not usable by vmx (usable PUs: %s; the cgroup or "
                    "the affinity vmx was started with excludes the others)",
                    list, hwloc_bitmap_weight(bad) == 1 ? "PU" : "PUs",
                    bitmap_text(bad, named, sizeof named), hwloc_bitmap_weight(bad) == 1 ? "is" : "are",
                    bitmap_text(s->usable, have, sizeof have));
  hwloc_bitmap_free(bad);
  return rc;
}

/* Sets s->node: the user's node, or the usable node holding most of cand. */
static int node_choose(vmx_sched_t *s, int wanted, hwloc_const_bitmap_t cand,
                       vmx_sched_error_t *err) {
  hwloc_const_nodeset_t allowed = hwloc_topology_get_allowed_nodeset(s->topo);
  char have[128];
  hwloc_obj_t node = NULL;
  if (wanted >= 0) {
    node = hwloc_get_numanode_obj_by_os_index(s->topo, (unsigned)wanted);
    if (!node)
      return sched_fail(err, VMX_EINVAL, "--numa-node %d: no such NUMA node (nodes: %s)", wanted,
                        bitmap_text(hwloc_topology_get_topology_nodeset(s->topo), have, sizeof have));
    if (!hwloc_bitmap_isset(allowed, node->os_index))
      return sched_fail(err, VMX_EINVAL,
                        "--numa-node %d: vmx may not use this node's memory (usable nodes: %s)", wanted,
                        bitmap_text(allowed, have, sizeof have));
    s->node_why = "--numa-node";
  } else {
    hwloc_bitmap_t local = hwloc_bitmap_alloc();
    if (!local)
      return VMX_ENOMEM;
    int best = -1;
    hwloc_obj_t it = NULL;
    while ((it = hwloc_get_next_obj_by_type(s->topo, HWLOC_OBJ_NUMANODE, it))) {
      if (!hwloc_bitmap_isset(allowed, it->os_index) || hwloc_bitmap_and(local, cand, it->cpuset) < 0)
        continue;
      if (hwloc_bitmap_weight(local) > best) {
        best = hwloc_bitmap_weight(local);
        node = it;
      }
    }
    hwloc_bitmap_free(local);
    if (!node)
      return sched_fail(err, VMX_EIO, "hwloc reports no NUMA node whose memory vmx may use");
    s->node_why = "auto: the node of most usable PUs";
  }
  s->node = (int)node->os_index;
  hwloc_bitmap_only(s->nodeset, node->os_index);
  return 0;
}

typedef struct pu_key {
  unsigned rank; /* how many PUs of the same core come before it */
  unsigned core; /* core's logical index; PUs without a core sort after */
  unsigned logical;
  unsigned os;
} pu_key_t;

static int pu_key_cmp(const void *a, const void *b) {
  const pu_key_t *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->core != y->core)
    return x->core < y->core ? -1 : 1;
  return (x->logical > y->logical) - (x->logical < y->logical);
}

/* Appends the PUs of `set` to s->order, one per core before any core's
 * second, in topology order. */
static int spread_append(vmx_sched_t *s, hwloc_const_bitmap_t set) {
  int count = hwloc_bitmap_weight(set);
  int ncore = hwloc_get_nbobjs_by_type(s->topo, HWLOC_OBJ_CORE);
  if (count <= 0)
    return 0;
  pu_key_t *keys = calloc((size_t)count, sizeof *keys);
  unsigned *taken = calloc((size_t)(ncore > 0 ? ncore : 1), sizeof *taken);
  if (!keys || !taken) {
    free(keys);
    free(taken);
    return VMX_ENOMEM;
  }
  int n = 0;
  hwloc_obj_t pu = NULL;
  while ((pu = hwloc_get_next_obj_by_type(s->topo, HWLOC_OBJ_PU, pu)) && n < count) {
    if (!hwloc_bitmap_isset(set, pu->os_index))
      continue;
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(s->topo, HWLOC_OBJ_CORE, pu);
    pu_key_t *k = &keys[n++];
    k->rank = core ? taken[core->logical_index]++ : 0;
    k->core = core ? core->logical_index : (unsigned)ncore + pu->logical_index;
    k->logical = pu->logical_index;
    k->os = pu->os_index;
    s->ncores += k->rank == 0;
  }
  qsort(keys, (size_t)n, sizeof *keys, pu_key_cmp);
  for (int i = 0; i < n; i++)
    s->order[s->norder++] = keys[i].os;
  free(keys);
  free(taken);
  return 0;
}

/* Builds s->order from the candidate PUs (see sched.h, "The plan"). */
static int order_build(vmx_sched_t *s, hwloc_const_bitmap_t cand, const vmx_sched_opts_t *o) {
  hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(s->topo, (unsigned)s->node);
  hwloc_bitmap_t local = hwloc_bitmap_alloc(), rest = hwloc_bitmap_alloc();
  int rc = VMX_ENOMEM;
  s->order = calloc((size_t)hwloc_bitmap_weight(cand), sizeof *s->order);
  if (!local || !rest || !s->order)
    goto out;
  hwloc_bitmap_and(local, cand, node->cpuset);
  hwloc_bitmap_andnot(rest, cand, node->cpuset);
  char text[128];
  if (o->cpu_affinity && o->numa_node < 0) {
    /* The user's list is honoured whole; node-local PUs come first. */
  } else if (hwloc_bitmap_iszero(local)) {
    snprintf(s->note, sizeof s->note, "%s on node %d: loop threads run away from their memory",
             o->cpu_affinity ? "none of the --cpu-affinity PUs is" : "no usable PU is", s->node);
    hwloc_bitmap_copy(local, rest);
    hwloc_bitmap_zero(rest);
  } else {
    if (o->cpu_affinity && !hwloc_bitmap_iszero(rest))
      snprintf(s->note, sizeof s->note, "--cpu-affinity PUs %s are not on node %d: left out",
               bitmap_text(rest, text, sizeof text), s->node);
    hwloc_bitmap_zero(rest);
  }
  if ((rc = spread_append(s, local)) || (rc = spread_append(s, rest)))
    goto out;
  hwloc_bitmap_or(s->loop_pus, local, rest);
out:
  hwloc_bitmap_free(local);
  hwloc_bitmap_free(rest);
  return rc;
}

static void summary_format(vmx_sched_t *s) {
  char pus[160];
  int nodes = hwloc_get_nbobjs_by_type(s->topo, HWLOC_OBJ_NUMANODE);
  int n = snprintf(s->summary, sizeof s->summary,
                   "memory on NUMA node %d (%s; %d node%s), loop threads on PU%s %s (%u PU%s, %u core%s)",
                   s->node, s->node_why, nodes, nodes == 1 ? "" : "s", s->norder == 1 ? "" : "s",
                   bitmap_text(s->loop_pus, pus, sizeof pus), s->norder, s->norder == 1 ? "" : "s",
                   s->ncores, s->ncores == 1 ? "" : "s");
  if (s->note[0] && n > 0 && (size_t)n < sizeof s->summary)
    snprintf(s->summary + n, sizeof s->summary - (size_t)n, "; %s", s->note);
}

int vmx_sched_init(vmx_sched_t **out, const vmx_sched_opts_t *o, vmx_sched_error_t *err) {
  *out = NULL;
  vmx_sched_t *s = calloc(1, sizeof *s);
  hwloc_bitmap_t listed = hwloc_bitmap_alloc();
  int rc = VMX_ENOMEM;
  if (!s || !listed)
    goto fail;
  s->loop_pus = hwloc_bitmap_alloc();
  s->nodeset = hwloc_bitmap_alloc();
  if (!s->loop_pus || !s->nodeset)
    goto fail;
  if ((rc = topo_load(s, o, err)) || (rc = usable_compute(s, err)))
    goto fail;
  if (o->cpu_affinity && (rc = affinity_check(s, o->cpu_affinity, listed, err)))
    goto fail;
  hwloc_const_bitmap_t cand = o->cpu_affinity ? listed : s->usable;
  if ((rc = node_choose(s, o->numa_node, cand, err)) || (rc = order_build(s, cand, o)))
    goto fail;
  summary_format(s);
  hwloc_bitmap_free(listed);
  *out = s;
  return 0;
fail:
  if (rc == VMX_ENOMEM)
    sched_fail(err, rc, "scheduler: %s", vmx_strerror(rc));
  hwloc_bitmap_free(listed);
  vmx_sched_close(s);
  return rc;
}

void vmx_sched_close(vmx_sched_t *s) {
  if (!s)
    return;
  hwloc_bitmap_free(s->usable);
  hwloc_bitmap_free(s->loop_pus);
  hwloc_bitmap_free(s->nodeset);
  free(s->order);
  if (s->topo)
    hwloc_topology_destroy(s->topo);
  free(s);
}

/* ------------------------------------------------------------ the plan */

int vmx_sched_node(const vmx_sched_t *s) { return s->node; }

unsigned vmx_sched_pu_count(const vmx_sched_t *s) { return s->norder; }

unsigned vmx_sched_loop_pu(const vmx_sched_t *s, unsigned loop) {
  return s->order[loop % s->norder];
}

void vmx_sched_plan(const vmx_sched_t *s, unsigned nthreads, unsigned *out_pu) {
  for (unsigned i = 0; i < nthreads; i++)
    out_pu[i] = vmx_sched_loop_pu(s, i);
}

const char *vmx_sched_describe(const vmx_sched_t *s) { return s->summary; }

/* ------------------------------------------------------------ acting on it */

int vmx_sched_pin_self(vmx_sched_t *s, unsigned pu, vmx_sched_error_t *err) {
  char text[128];
  if (s->synthetic)
    return sched_fail(err, VMX_ENOSYS, "cannot pin to PU %u: the topology is synthetic", pu);
  if (!hwloc_bitmap_isset(s->usable, pu))
    return sched_fail(err, VMX_EINVAL, "cannot pin to PU %u: not a usable PU (usable PUs: %s)", pu,
                      bitmap_text(s->usable, text, sizeof text));
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  if (!set)
    return sched_fail(err, VMX_ENOMEM, "cannot pin to PU %u: %s", pu, vmx_strerror(VMX_ENOMEM));
  hwloc_bitmap_only(set, pu);
  int rc = hwloc_set_cpubind(s->topo, set, HWLOC_CPUBIND_THREAD);
  int saved = errno;
  hwloc_bitmap_free(set);
  if (rc < 0) {
    vmx_sched_pu_describe(s, pu, text, sizeof text);
    return sched_fail(err, VMX_EIO, "cannot pin a thread to %s: %s", text, strerror(saved));
  }
  return 0;
}

int vmx_sched_pin_loop(vmx_sched_t *s, unsigned loop, unsigned *pu, vmx_sched_error_t *err) {
  unsigned where = vmx_sched_loop_pu(s, loop);
  int rc = vmx_sched_pin_self(s, where, err);
  if (pu)
    *pu = where;
  if (!rc) {
    char text[64];
    vmx_sched_pu_describe(s, where, text, sizeof text);
    vmx_log_debug("pinned loop thread %u to %s", loop, text);
  }
  return rc;
}

int vmx_sched_membind(vmx_sched_t *s, void *addr, size_t len, vmx_sched_error_t *err) {
  if (s->synthetic)
    return sched_fail(err, VMX_ENOSYS,
                      VMX_SCHED_MEMBIND_FALLBACK " %d: the topology is synthetic", s->node);
  if (!len)
    return 0;
  /* BIND without HWLOC_MEMBIND_STRICT is Linux's MPOL_PREFERRED: node first,
   * others when it is full, never an OOM kill for a full node. */
  if (hwloc_set_area_membind(s->topo, addr, len, s->nodeset, HWLOC_MEMBIND_BIND,
                             HWLOC_MEMBIND_BYNODESET) == 0)
    return 0;
  if (errno == EFAULT)
    return sched_fail(err, VMX_EFAULT, "cannot place memory at %p (+%#zx) on NUMA node %d: not mapped",
                      addr, len, s->node);
  return sched_fail(err, VMX_ENOSYS,
                    VMX_SCHED_MEMBIND_FALLBACK " %d (mbind: %s): it stays where the kernel puts "
                    "it, on the node of the thread that first touches it",
                    s->node, strerror(errno));
}

int vmx_sched_membind_thread(vmx_sched_t *s, vmx_sched_error_t *err) {
  if (s->synthetic)
    return sched_fail(err, VMX_ENOSYS,
                      VMX_SCHED_MEMBIND_FALLBACK " %d: the topology is synthetic", s->node);
  if (hwloc_set_membind(s->topo, s->nodeset, HWLOC_MEMBIND_BIND,
                        HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) == 0)
    return 0;
  return sched_fail(err, VMX_ENOSYS,
                    VMX_SCHED_MEMBIND_FALLBACK " %d (set_mempolicy: %s): it stays where the kernel "
                    "puts it, on the node of the thread that first touches it",
                    s->node, strerror(errno));
}

/* ------------------------------------------------------------ printing */

static const char *bytes_text(uint64_t n, char *buf, size_t len) {
  if (n >= (1ull << 30))
    snprintf(buf, len, "%.1f GiB", (double)n / (1ull << 30));
  else
    snprintf(buf, len, "%llu MiB", (unsigned long long)(n >> 20));
  return buf;
}

static void print_node(const vmx_sched_t *s, FILE *out, hwloc_obj_t node) {
  char text[160], mem[32];
  bool usable = hwloc_bitmap_isset(hwloc_topology_get_allowed_nodeset(s->topo), node->os_index);
  fprintf(out, "node %u: %s memory%s, PUs %s\n", node->os_index,
          bytes_text(node->attr->numanode.local_memory, mem, sizeof mem),
          usable ? "" : " (not usable by vmx)",
          hwloc_bitmap_iszero(node->cpuset) ? "none" : bitmap_text(node->cpuset, text, sizeof text));
  hwloc_obj_t core = NULL;
  hwloc_bitmap_t off = hwloc_bitmap_alloc();
  while ((core = hwloc_get_next_obj_by_type(s->topo, HWLOC_OBJ_CORE, core))) {
    if (pu_node(s->topo, (unsigned)hwloc_bitmap_first(core->cpuset)) != node)
      continue;
    hwloc_obj_t pack = hwloc_get_ancestor_obj_by_type(s->topo, HWLOC_OBJ_PACKAGE, core);
    fprintf(out, "  core %u", core->logical_index);
    if (pack)
      fprintf(out, " (package %u)", pack->logical_index);
    fprintf(out, ": PU%s %s", hwloc_bitmap_weight(core->cpuset) == 1 ? "" : "s",
            bitmap_text(core->cpuset, text, sizeof text));
    if (off && hwloc_bitmap_andnot(off, core->cpuset, s->usable) == 0 && !hwloc_bitmap_iszero(off))
      fprintf(out, " (not usable: %s)", bitmap_text(off, text, sizeof text));
    fputc('\n', out);
  }
  hwloc_bitmap_free(off);
}

int vmx_sched_print_topology(const vmx_sched_t *s, FILE *out, unsigned nloops) {
  hwloc_topology_t t = s->topo;
  int nodes = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  int packs = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  char text[160], all[160];
  fprintf(out, "%s: %d NUMA node%s, %d package%s, %d cores, %d PUs (PUs and nodes by OS number, cores by hwloc's logical index)\n",
          s->synthetic ? "synthetic machine" : "host", nodes, nodes == 1 ? "" : "s", packs,
          packs == 1 ? "" : "s", hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE),
          hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU));
  hwloc_obj_t node = NULL;
  while ((node = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, node)))
    print_node(s, out, node);
  bitmap_text(hwloc_topology_get_topology_cpuset(t), all, sizeof all);
  bitmap_text(s->usable, text, sizeof text);
  if (strcmp(text, all))
    fprintf(out, "usable PUs: %s (the cgroup or the affinity vmx was started with excludes the others)\n", text);
  else
    fprintf(out, "usable PUs: %s (all)\n", text);
  fprintf(out, "scheduler: %s\n", s->summary);
  if (nodes == 1)
    fprintf(out, "one NUMA node: all memory is local, nothing to choose; loop threads are pinned all the same\n");
  if (!nloops)
    nloops = s->norder;
  fprintf(out, "plan for a VM with %u loop thread%s (cores before hyperthreads, wrapping after %u):\n",
          nloops, nloops == 1 ? "" : "s", s->norder);
  for (unsigned i = 0; i < nloops; i++) {
    vmx_sched_pu_describe(s, vmx_sched_loop_pu(s, i), text, sizeof text);
    fprintf(out, "  loop thread %u -> %s\n", i, text);
  }
  return ferror(out) ? VMX_EIO : 0;
}

/* ------------------------------------------------------------ vmx --print-topology */

/* Largest PU number sched_getaffinity() is asked about (Linux's NR_CPUS limit). */
#define SCHED_AFFINITY_BITS 8192

typedef struct loop_probe {
  vmx_sched_t *s;
  unsigned loop;
  unsigned pu;
  int rc;
  int seen;              /* the only PU the thread may run on afterwards, or -1 */
  vmx_sched_error_t err;
} loop_probe_t;

static void *loop_probe_run(void *arg) {
  loop_probe_t *p = arg;
  p->seen = -1;
  p->rc = vmx_sched_pin_loop(p->s, p->loop, &p->pu, &p->err);
  cpu_set_t *set = CPU_ALLOC(SCHED_AFFINITY_BITS);
  size_t size = CPU_ALLOC_SIZE(SCHED_AFFINITY_BITS);
  if (!p->rc && set && sched_getaffinity(0, size, set) == 0 && CPU_COUNT_S(size, set) == 1)
    for (int cpu = 0; cpu < SCHED_AFFINITY_BITS; cpu++)
      if (CPU_ISSET_S((size_t)cpu, size, set))
        p->seen = cpu;
  CPU_FREE(set);
  return NULL;
}

/* Starts nloops threads at once, pins each to its planned PU and reports. */
static int loops_pin(vmx_sched_t *s, unsigned nloops) {
  loop_probe_t *probes = calloc(nloops, sizeof *probes);
  pthread_t *threads = calloc(nloops, sizeof *threads);
  int status = 0;
  unsigned started = 0;
  if (!probes || !threads) {
    vmx_log_error("--print-topology: %s", vmx_strerror(VMX_ENOMEM));
    status = 1;
    goto out;
  }
  for (; started < nloops; started++) {
    probes[started] = (loop_probe_t){.s = s, .loop = started};
    if (pthread_create(&threads[started], NULL, loop_probe_run, &probes[started])) {
      vmx_log_error("--print-topology: cannot start loop thread %u", started);
      status = 1;
      break;
    }
  }
  for (unsigned i = 0; i < started; i++) {
    char text[64];
    loop_probe_t *p = &probes[i];
    pthread_join(threads[i], NULL);
    vmx_sched_pu_describe(s, p->pu, text, sizeof text);
    if (p->rc) {
      vmx_log_error("loop thread %u: %s", i, p->err.text);
      status = 1;
    } else if (p->seen != (int)p->pu) {
      vmx_log_error("loop thread %u: pinned to %s but its affinity says otherwise", i, text);
      status = 1;
    } else {
      printf("pinned loop thread %u to %s\n", i, text);
    }
  }
out:
  free(probes);
  free(threads);
  return status;
}

/* Places a test range on the chosen node, touches it and says where its
 * pages went. Refusal by the OS is reported, not an error. */
static void memory_place(vmx_sched_t *s) {
  const size_t len = 4u << 20;
  char text[128];
  vmx_sched_error_t err;
  void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    printf("memory: cannot map a test range: %s\n", strerror(errno));
    return;
  }
  if (vmx_sched_membind(s, mem, len, &err)) {
    printf("memory: %s\n", err.text);
  } else {
    memset(mem, 0x5a, len);
    hwloc_nodeset_t where = hwloc_bitmap_alloc();
    if (where && hwloc_get_area_memlocation(s->topo, mem, len, where, HWLOC_MEMBIND_BYNODESET) == 0)
      printf("placed %zu MiB of memory on node %d (its pages are on node %s)\n", len >> 20, s->node,
             bitmap_text(where, text, sizeof text));
    else
      printf("placed %zu MiB of memory on node %d (where its pages are is unknown)\n", len >> 20,
             s->node);
    hwloc_bitmap_free(where);
  }
  munmap(mem, len);
}

static void main_usage(FILE *out) {
  fprintf(out,
          "usage: vmx --print-topology [OPTIONS]\n"
          "Shows the host's NUMA nodes, cores and PUs, where vmx would run a VM's loop\n"
          "threads and place its memory, then does it: pins the loop threads and places\n"
          "a test range of memory, and says what happened.\n"
          "\n" VMX_SCHED_OPTIONS_HELP
          "  --loops N            plan N loop threads (default: one per PU of the plan)\n"
          "  --synthetic DESC     plan for a hwloc synthetic machine instead of this one,\n"
          "                       e.g. \"pack:2 numa:1 core:4 pu:2\" (pins nothing)\n");
}

int vmx_sched_main(int argc, char **argv) {
  vmx_sched_opts_t o = VMX_SCHED_OPTS_INIT;
  vmx_sched_error_t err;
  unsigned long nloops = 0;
  for (int i = 1; i < argc;) {
    const char *value;
    int rc = vmx_sched_opts_arg(&o, argc, argv, &i, &err);
    if (rc < 0) {
      vmx_log_error("%s", err.text);
      return 2;
    }
    if (rc)
      continue;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      main_usage(stdout);
      return 0;
    } else if (opt_match("--loops", argc, argv, &i, &value)) {
      if (!value || !parse_uint(value, 1024, &nloops) || !nloops) {
        vmx_log_error("--loops '%.32s': expected a number of loop threads from 1 to 1024",
                      value ? value : "");
        return 2;
      }
    } else if (opt_match("--synthetic", argc, argv, &i, &value)) {
      if (!value) {
        vmx_log_error("--synthetic needs a hwloc synthetic description");
        return 2;
      }
      o.synthetic = value;
    } else {
      vmx_log_error("--print-topology: unknown option '%s'", argv[i]);
      main_usage(stderr);
      return 2;
    }
  }
  vmx_sched_t *s;
  int rc = vmx_sched_init(&s, &o, &err);
  if (rc) {
    vmx_log_error("%s", err.text);
    return rc == VMX_EINVAL ? 2 : 1;
  }
  int status = vmx_sched_print_topology(s, stdout, (unsigned)nloops) ? 1 : 0;
  if (s->synthetic) {
    printf("synthetic machine: nothing pinned, no memory placed\n");
  } else {
    printf("what vmx did (each pin checked with sched_getaffinity):\n");
    status |= loops_pin(s, nloops ? (unsigned)nloops : s->norder);
    memory_place(s);
  }
  vmx_sched_close(s);
  return status;
}
