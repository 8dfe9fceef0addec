/* bench_bus: throughput and latency of the event bus and the actor runtime.
 *
 *   bench_bus [--quick]        (or: cmake --build BUILD --target bench-bus)
 *
 * Every actor path below carries real bus messages: each PING is encoded
 * with msgpack at the send and decoded (checked) before its receive runs.
 * In the same run it measures raw ck_ring moving the same 128-byte slots with
 * the same payload, spinning on both ends: the physical limit.
 *
 * Latency is send-to-receive time, from CLOCK_MONOTONIC stamps on every 64th
 * message. In the throughput rows it includes queueing behind the messages
 * ahead (the producers run flat out); the "consumer idle" row sends one message
 * at a time to a loop that is asleep in epoll, which is the wake-up latency.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "actors/actor.h"

#define SEC 1000000000ull
#define STAMP_EVERY 64
#define MAX_SAMPLES (1u << 20)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- results */

typedef struct result {
  const char *path;
  uint64_t messages;
  double per_sec; /* 0: not a throughput row */
  double p50_us, p99_us;
  const char *note;
} result_t;

static result_t results[16];
static unsigned nresults;
static result_t runs[8]; /* the repetitions of the scenario being measured */
static unsigned nruns;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double percentile(uint64_t *v, size_t n, double p) {
  if (!n)
    return 0;
  qsort(v, n, sizeof *v, cmp_u64);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i] / 1000.0;
}

static void record(const char *path, uint64_t messages, uint64_t elapsed_ns, uint64_t *lat,
                   size_t nlat, const char *note) {
  result_t *r = &runs[nruns++];
  r->path = path;
  r->messages = messages;
  r->per_sec = elapsed_ns ? messages * 1e9 / (double)elapsed_ns : 0;
  r->p50_us = percentile(lat, nlat, 0.50);
  r->p99_us = percentile(lat, nlat, 0.99);
  r->note = note;
  printf("  %-34s %10.2f M msg/s  p50 %8.2f us  p99 %8.2f us\n", path, r->per_sec / 1e6,
         r->p50_us, r->p99_us);
  fflush(stdout);
}

/* Orders runs by throughput, or by p99 latency where there is none. */
static int cmp_run(const void *a, const void *b) {
  const result_t *x = a, *y = b;
  double kx = x->per_sec ? x->per_sec : -x->p99_us, ky = y->per_sec ? y->per_sec : -y->p99_us;
  return kx < ky ? -1 : kx > ky;
}

/* Keeps the median of the runs just recorded. */
static void keep_median(void) {
  qsort(runs, nruns, sizeof runs[0], cmp_run);
  results[nresults++] = runs[nruns / 2];
  nruns = 0;
}

#define REPEAT(reps, call)             \
  do {                                 \
    for (int rep_ = 0; rep_ < (reps); rep_++) \
      call;                            \
    keep_median();                     \
  } while (0)

static vmx_msg_t ping(uint64_t value, bool stamp) {
  vmx_msg_t m = VMX_MSG_INIT(PING);
  m.body.ping.value = value;
  m.body.ping.sent_ns = stamp ? now_ns() : 0;
  return m;
}

/* ------------------------------------------------------------------ codec */

static void bench_codec(uint64_t n) {
  vmx_msg_t m = ping(0, false), out;
  m.env.src = vmx_addr_make(0, 1, 1);
  m.env.dst = vmx_addr_make(1, 2, 2);
  uint8_t buf[VMX_MSG_MAX_ENCODED];
  size_t len;
  uint64_t sink = 0, t0 = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    m.env.seq = i + 1;
    m.body.ping.value = i;
    vmx_msg_encode(&m, buf, sizeof buf, &len);
    vmx_msg_decode(buf, len, &out, NULL);
    sink += out.body.ping.value;
  }
  uint64_t t = now_ns() - t0;
  if (sink == 42)
    puts("");
  record("msgpack encode + decode (1 thread)", n, t, NULL, 0, "no ring, no loop");
}

/* --------------------------------------------------------------- raw ring */

CK_RING_PROTOTYPE(bench_slot, vmx_ring_slot)

typedef struct raw {
  ck_ring_t ring __attribute__((aligned(64)));
  vmx_ring_slot_t *slots;
  uint8_t payload[VMX_MSG_MAX_ENCODED];
  size_t payload_len;
  uint64_t per_producer;
} raw_t;

/* Spin, but give the CPU away now and then: on a host with more busy threads
 * than cores a pure spin waits for whole time slices. */
static void backoff(unsigned *spins) {
  if (++*spins % 128 == 0)
    sched_yield();
  else
    ck_pr_stall();
}

static void *raw_produce(void *arg) {
  raw_t *r = arg;
  vmx_ring_slot_t slot = {.len = (uint16_t)r->payload_len};
  memcpy(slot.bytes, r->payload, r->payload_len);
  for (uint64_t i = 0; i < r->per_producer; i++) {
    uint64_t stamp = i % STAMP_EVERY == 0 ? now_ns() : 0;
    memcpy(slot.bytes + 8, &stamp, sizeof stamp);
    for (unsigned spins = 0; !ck_ring_enqueue_mpsc_bench_slot(&r->ring, r->slots, &slot);)
      backoff(&spins);
  }
  return NULL;
}

static void bench_raw(const char *path, unsigned producers, uint64_t per_producer,
                      size_t payload_len, uint64_t *lat) {
  raw_t *r = aligned_alloc(64, sizeof *r);
  memset(r, 0, sizeof *r);
  ck_ring_init(&r->ring, 4096);
  r->slots = aligned_alloc(64, 4096 * sizeof *r->slots);
  r->payload_len = payload_len;
  r->per_producer = per_producer;
  pthread_t th[8];
  uint64_t total = producers * per_producer, got = 0, t0 = now_ns();
  size_t nlat = 0;
  for (unsigned i = 0; i < producers; i++)
    pthread_create(&th[i], NULL, raw_produce, r);
  vmx_ring_slot_t slot;
  unsigned spins = 0;
  while (got < total) {
    if (!ck_ring_dequeue_mpsc_bench_slot(&r->ring, r->slots, &slot)) {
      backoff(&spins);
      continue;
    }
    spins = 0;
    got++;
    uint64_t stamp;
    memcpy(&stamp, slot.bytes + 8, sizeof stamp);
    if (stamp && nlat < MAX_SAMPLES)
      lat[nlat++] = now_ns() - stamp;
  }
  uint64_t t = now_ns() - t0;
  for (unsigned i = 0; i < producers; i++)
    pthread_join(th[i], NULL);
  record(path, total, t, lat, nlat, "threads spin (yield every 128 tries) on both ends");
  free(r->slots);
  free(r);
}

/* ----------------------------------------------------------------- actors */

typedef struct consumer {
  uint64_t expected, count, t_end;
  uint64_t *lat;
  size_t nlat;
} consumer_t;

static int consumer_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  consumer_t *c = state;
  if (msg->body.ping.sent_ns && c->nlat < MAX_SAMPLES)
    c->lat[c->nlat++] = now_ns() - msg->body.ping.sent_ns;
  if (++c->count == c->expected)
    __atomic_store_n(&c->t_end, now_ns(), __ATOMIC_RELEASE);
  return 0;
}

typedef struct producer {
  vmx_addr_t dst;
  uint64_t n, sent;
} producer_t;

/* On each kick (EMPTY): a burst of PINGs, then a kick to itself. A full
 * destination ends the burst; the producer yields its CPU before going on. */
static int producer_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  producer_t *p = state;
  for (int i = 0; i < 64 && p->sent < p->n; i++) {
    vmx_msg_t m = ping(p->sent, p->sent % STAMP_EVERY == 0);
    int rc = vmx_actor_send(ctx, p->dst, &m);
    if (rc == VMX_EAGAIN) {
      /* A consumer on another loop needs a CPU; one on ours needs a turn. */
      if (vmx_addr_loop(p->dst) != vmx_loop_index(vmx_actor_loop(ctx)))
        sched_yield();
      break;
    }
    if (rc)
      return rc;
    p->sent++;
  }
  if (p->sent == p->n)
    return 0;
  vmx_msg_t kick = VMX_MSG_INIT(EMPTY);
  return vmx_actor_send(ctx, vmx_actor_self(ctx), &kick);
}

static void wait_end(consumer_t *c) {
  while (!__atomic_load_n(&c->t_end, __ATOMIC_ACQUIRE))
    usleep(200);
}

/* Producers on loops[1..nprod] (or loops[0] if same_loop), consumer on loops[0]. */
static void bench_actors(const char *path, unsigned nprod, bool same_loop, uint64_t per_producer,
                         uint64_t *lat) {
  vmx_bus_t *bus;
  vmx_bus_init(&bus, NULL);
  vmx_loop_t *loops[8];
  unsigned nloops = same_loop ? 1 : 1 + nprod;
  for (unsigned i = 0; i < nloops; i++)
    vmx_loop_start(bus, NULL, &loops[i]);
  consumer_t c = {.expected = nprod * per_producer, .lat = lat};
  vmx_actor_def_t cdef = {.name = "consumer", .receive = consumer_receive, .state = &c};
  vmx_addr_t ca;
  vmx_actor_spawn(loops[0], &cdef, &ca);
  producer_t p[8];
  vmx_addr_t pa[8];
  for (unsigned i = 0; i < nprod; i++) {
    p[i] = (producer_t){ca, per_producer, 0};
    vmx_actor_def_t def = {.name = "producer", .receive = producer_receive, .state = &p[i]};
    vmx_actor_spawn(loops[same_loop ? 0 : 1 + i], &def, &pa[i]);
  }
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  uint64_t t0 = now_ns();
  for (unsigned i = 0; i < nprod; i++) {
    vmx_msg_t kick = VMX_MSG_INIT(EMPTY);
    vmx_bus_send(&out, pa[i], &kick);
  }
  wait_end(&c);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(loops[0], &st);
  static char notes[8][96];
  static unsigned nnotes;
  char *note = notes[nnotes++ % 8];
  snprintf(note, sizeof notes[0], "consumer loop: ring hwm %" PRIu64 ", back-pressure %" PRIu64,
           st.ring_hwm, st.backpressure);
  record(path, c.expected, c.t_end - t0, c.lat, c.nlat, note);
  vmx_loop_stop_all(bus, 10 * SEC);
  vmx_bus_close(bus);
}

/* One message at a time to an idle loop, from a host thread. */
static void bench_idle_latency(const char *path, unsigned idle_poll_us, uint64_t n, uint64_t *lat) {
  vmx_bus_t *bus;
  vmx_bus_init(&bus, NULL);
  vmx_loop_t *loop;
  vmx_loop_options_t o = {.idle_poll_us = idle_poll_us};
  vmx_loop_start(bus, &o, &loop);
  consumer_t c = {.expected = n, .lat = lat};
  vmx_actor_def_t cdef = {.name = "consumer", .receive = consumer_receive, .state = &c};
  vmx_addr_t ca;
  vmx_actor_spawn(loop, &cdef, &ca);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  for (uint64_t i = 0; i < n; i++) {
    usleep(50); /* the loop goes back to sleep in epoll */
    vmx_msg_t m = ping(i, true);
    vmx_bus_send_wait(&out, ca, &m, SEC);
  }
  wait_end(&c);
  record(path, n, 0, c.lat, c.nlat,
         idle_poll_us ? "same, the loop polls 200 us before sleeping (burns CPU)"
                      : "one message every ~50-100 us to a loop asleep in epoll");
  vmx_loop_stop_all(bus, 10 * SEC);
  vmx_bus_close(bus);
}

/* --------------------------------------------------------------------- ask */

static int doubler_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  if (msg->env.type != VMX_MSG_PING)
    return 0;
  vmx_msg_t r = VMX_MSG_INIT(PONG);
  r.body.pong.value = msg->body.ping.value * 2;
  return vmx_actor_reply(ctx, &r);
}

typedef struct asker {
  vmx_addr_t target;
  uint64_t n, done_ns;
  uint64_t *lat;
  size_t nlat;
} asker_t;

static int asker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  asker_t *a = state;
  for (uint64_t i = 0; i < a->n; i++) {
    uint64_t t0 = now_ns();
    vmx_msg_t req = ping(i, false), rep;
    int rc = vmx_actor_ask(ctx, a->target, &req, &rep, SEC);
    if (rc)
      return rc;
    if (a->nlat < MAX_SAMPLES)
      a->lat[a->nlat++] = now_ns() - t0;
  }
  __atomic_store_n(&a->done_ns, now_ns(), __ATOMIC_RELEASE);
  return 0;
}

static void bench_ask(const char *path, bool same_loop, uint64_t n, uint64_t *lat) {
  vmx_bus_t *bus;
  vmx_bus_init(&bus, NULL);
  vmx_loop_t *loops[2];
  for (unsigned i = 0; i < 2; i++)
    vmx_loop_start(bus, NULL, &loops[i]);
  vmx_actor_def_t ddef = {.name = "device", .receive = doubler_receive};
  asker_t a = {.n = n, .lat = lat};
  vmx_actor_spawn(loops[same_loop ? 0 : 1], &ddef, &a.target);
  vmx_actor_def_t adef = {.name = "vcpu", .receive = asker_receive, .state = &a};
  vmx_addr_t aa;
  vmx_actor_spawn(loops[0], &adef, &aa);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  vmx_msg_t go = VMX_MSG_INIT(EMPTY);
  uint64_t t0 = now_ns();
  vmx_bus_send(&out, aa, &go);
  while (!__atomic_load_n(&a.done_ns, __ATOMIC_ACQUIRE))
    usleep(200);
  record(path, n, a.done_ns - t0, a.lat, a.nlat,
         same_loop ? "direct call; a device on the vCPU's loop" : "round trip by message");
  vmx_loop_stop_all(bus, 10 * SEC);
  vmx_bus_close(bus);
}

/* ----------------------------------------------------------------- report */

static void machine(char *buf, size_t cap) {
  char model[128] = "unknown CPU";
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *v = strchr(line, ':');
      if (v) {
        snprintf(model, sizeof model, "%s", v + 2);
        model[strcspn(model, "\n")] = 0;
      }
      break;
    }
  }
  if (f)
    fclose(f);
  struct utsname u;
  uname(&u);
  snprintf(buf, cap, "%s, %ld CPUs, %s %s", model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
           u.release);
}

static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1)
      l = -1;
    fclose(f);
  }
  return l;
}

static const result_t *find(const char *path) {
  for (unsigned i = 0; i < nresults; i++)
    if (strcmp(results[i].path, path) == 0)
      return &results[i];
  return NULL;
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  uint64_t scale = quick ? 10 : 1;
  uint64_t *lat = malloc(MAX_SAMPLES * sizeof *lat);
  char host[256];
  machine(host, sizeof host);
  double load_before = loadavg();
  vmx_msg_t sample = ping(UINT32_MAX, true);
  sample.env.src = vmx_addr_make(1, 1, 1);
  sample.env.dst = vmx_addr_make(0, 1, 1);
  sample.env.seq = 1000000;
  sample.env.icount = VMX_ICOUNT_NONE;
  uint8_t buf[VMX_MSG_MAX_ENCODED];
  size_t payload;
  vmx_msg_encode(&sample, buf, sizeof buf, &payload);
  printf("bench_bus on %s (load average %.2f)\n", host, load_before);

  int reps = quick ? 1 : 3;
  REPEAT(reps, bench_codec(20000000 / scale));
  REPEAT(reps, bench_raw("raw ck_ring 1->1", 1, 10000000 / scale, payload, lat));
  REPEAT(reps, bench_raw("raw ck_ring 2->1", 2, 5000000 / scale, payload, lat));
  REPEAT(reps, bench_actors("same loop (actor -> actor)", 1, true, 20000000 / scale, lat));
  REPEAT(reps, bench_actors("cross loop 1->1", 1, false, 10000000 / scale, lat));
  REPEAT(reps, bench_actors("cross loop 2->1", 2, false, 5000000 / scale, lat));
  REPEAT(reps, bench_idle_latency("cross loop 1->1, consumer idle", 0, 10000 / scale, lat));
  REPEAT(reps, bench_idle_latency("... with idle_poll_us = 200", 200, 10000 / scale, lat));
  REPEAT(reps, bench_ask("ask, same loop", true, 5000000 / scale, lat));
  REPEAT(reps, bench_ask("ask, cross loop", false, 100000 / scale, lat));
  double load_after = loadavg();

  printf("\n## bench_bus\n\n");
  printf("Machine: %s. Load average %.2f before, %.2f after: the machine is shared, so the\n"
         "figures are noisy; each row is the median of %d runs. Message: PING, %zu bytes of\n"
         "msgpack in one %d-byte ring slot. Latency is send to receive; in throughput rows it\n"
         "includes queueing.\n\n",
         host, load_before, load_after, reps, payload, VMX_RING_SLOT_SIZE);
  printf("| path | messages | M msg/s | p50 us | p99 us | note |\n|---|---:|---:|---:|---:|---|\n");
  for (unsigned i = 0; i < nresults; i++) {
    const result_t *r = &results[i];
    printf("| %s | %" PRIu64 " | ", r->path, r->messages);
    if (r->per_sec)
      printf("%.2f", r->per_sec / 1e6);
    else
      printf("-");
    if (r->p50_us || r->p99_us)
      printf(" | %.2f | %.2f | %s |\n", r->p50_us, r->p99_us, r->note);
    else
      printf(" | - | - | %s |\n", r->note);
  }
  const result_t *same = find("same loop (actor -> actor)"), *cross = find("cross loop 1->1");
  const result_t *raw = find("raw ck_ring 1->1"), *idle = find("cross loop 1->1, consumer idle");
  printf("\nTargets: same loop >= 10 M msg/s: %.2f M (%s); cross loop >= 25%% of raw ring: "
         "%.0f%% (%s); idle cross-loop p99 < 50 us: %.1f us (%s)\n",
         same->per_sec / 1e6, same->per_sec >= 10e6 ? "met" : "NOT met",
         100 * cross->per_sec / raw->per_sec, cross->per_sec >= 0.25 * raw->per_sec ? "met" : "NOT met",
         idle->p99_us, idle->p99_us < 50 ? "met" : "NOT met");
  free(lat);
  return 0;
}
