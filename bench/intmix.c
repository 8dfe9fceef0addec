/* intmix: the integer workload. Six phases, each run SCALE times over fixed
 * seeded data, covering what integer-heavy guest code spends its time on:
 * hashing (multiply, shift, xor), sorting (compares, data-dependent branches,
 * loads and stores), bit manipulation (libgcc popcount/clz on rv64gc, which
 * has no Zbb), division and remainder in 32 and 64 bits, a switch-dispatched
 * bytecode interpreter (indirect jumps), and table-driven CRC-32. Each phase
 * prints its checksum. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

#define BUF_BYTES (64 * 1024)
#define SORT_LEN 4096

static uint8_t buf[BUF_BYTES];
static uint32_t sort_src[SORT_LEN], sort_work[SORT_LEN];
static uint32_t crc_table[256];

static uint64_t hash_fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/* murmur3's 64-bit finaliser over 8-byte words: wide multiplies and shifts. */
static uint64_t hash_mix64(const uint8_t *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t k;
    memcpy(&k, p + i, 8);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    h = (h ^ k) * 0xc4ceb9fe1a85ec53ULL;
    h = (h << 27) | (h >> 37);
  }
  return h;
}

static uint64_t phase_hash(long reps) {
  uint64_t sum = 0;
  for (long r = 0; r < reps; r++) {
    buf[r % BUF_BYTES] ^= (uint8_t)r; /* so no two rounds hash the same bytes */
    sum += hash_fnv1a(buf, BUF_BYTES) ^ hash_mix64(buf, BUF_BYTES);
  }
  return sum;
}

static void insertion_sort(uint32_t *a, long n) {
  for (long i = 1; i < n; i++) {
    uint32_t v = a[i];
    long j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static void quick_sort(uint32_t *a, long n) {
  while (n > 16) {
    uint32_t pivot = a[n / 2];
    long i = 0, j = n - 1;
    for (;;) {
      while (a[i] < pivot)
        i++;
      while (a[j] > pivot)
        j--;
      if (i >= j)
        break;
      uint32_t t = a[i];
      a[i++] = a[j];
      a[j--] = t;
    }
    /* Recurse into the smaller side, loop on the larger: bounded stack. */
    if (j + 1 < n - j - 1) {
      quick_sort(a, j + 1);
      a += j + 1;
      n -= j + 1;
    } else {
      quick_sort(a + j + 1, n - j - 1);
      n = j + 1;
    }
  }
  insertion_sort(a, n);
}

static uint64_t phase_sort(long reps) {
  workload_rng_t rng = {0x5eed0002};
  uint64_t sum = 0;
  for (long r = 0; r < reps; r++) {
    for (int i = 0; i < SORT_LEN; i++)
      sort_src[i] = (uint32_t)(workload_rng_next(&rng) >> 32);
    memcpy(sort_work, sort_src, sizeof sort_work);
    quick_sort(sort_work, SORT_LEN);
    for (int i = 0; i < SORT_LEN; i++) {
      if (i > 0 && sort_work[i - 1] > sort_work[i]) {
        printf("sort: not sorted at %d\n", i);
        return 0;
      }
      sum += (uint64_t)sort_work[i] * (uint64_t)(i + 1);
    }
  }
  return sum;
}

static uint32_t bit_reverse32(uint32_t x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}

static uint64_t phase_bits(long reps) {
  workload_rng_t rng = {0x5eed0003};
  uint64_t sum = 0;
  for (long r = 0; r < reps * 40000; r++) {
    uint64_t x = workload_rng_next(&rng);
    int64_t s = (int64_t)x >> (x & 63); /* arithmetic shift, variable amount */
    sum += (uint64_t)__builtin_popcountll(x);
    sum += (uint64_t)__builtin_clzll(x | 1) + (uint64_t)__builtin_ctzll(x | (1ULL << 63));
    sum ^= bit_reverse32((uint32_t)x) + (uint64_t)s;
    sum = (sum << 7) | (sum >> 57);
    sum += (x & (x - 1)) ^ (x & -x);
  }
  return sum;
}

/* Small-loop arithmetic: Collatz chains, Euclid's gcd and 32-bit wrapping
 * arithmetic (addw/mulw/divw/remw), signed and unsigned. */
static uint64_t phase_arith(long reps) {
  uint64_t sum = 0;
  for (long r = 0; r < reps; r++) {
    for (uint64_t n = 1 + (uint64_t)r; n < 3000 + (uint64_t)r; n++) {
      uint64_t x = n;
      uint32_t steps = 0;
      while (x != 1) {
        x = (x & 1) ? 3 * x + 1 : x / 2;
        steps++;
      }
      uint64_t a = n * 7919, b = n * 104729 + 13;
      while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
      }
      int32_t w = (int32_t)(n * 2654435761u);
      int32_t q = w / (int32_t)(steps + 3) - w % 97;
      uint32_t u = (uint32_t)w / (steps + 1u) + (uint32_t)w % 1009u;
      int64_t d = -(int64_t)(n * n) / (int64_t)(steps + 1) + (int64_t)(n * n) % 12345;
      sum += steps + a + (uint64_t)(int64_t)q + u + (uint64_t)d;
    }
  }
  return sum;
}

/* A stack-machine bytecode interpreter: the dispatch switch compiles to a jump
 * table, as in real interpreters. */
enum {
  OP_PUSH,  /* push the next word */
  OP_LOAD,  /* push local[next word] */
  OP_STORE, /* pop into local[next word] */
  OP_ADD,
  OP_SUB,
  OP_MUL,
  OP_MOD,
  OP_XOR,
  OP_SHL,
  OP_DUP,
  OP_SWAP,
  OP_LT,    /* push (a < b) */
  OP_JNZ,   /* pop; if nonzero jump to the next word */
  OP_JMP,
  OP_HALT,
};

/* local0 = i, local1 = acc, local2 = the loop bound:
 *   while (i < bound) { acc = acc * 31 ^ (i * i % 7 - (i << 3)); i++; }
 *   return acc;
 * interp_native() is the same loop in C, to check the interpreter. */
static const int32_t program[] = {
  OP_PUSH, 0, OP_STORE, 0, OP_PUSH, 1, OP_STORE, 1,
  /* 8: loop head */
  OP_LOAD, 0, OP_LOAD, 2, OP_LT, OP_JNZ, 17, OP_JMP, 48,
  /* 17: body */
  OP_LOAD, 1, OP_PUSH, 31, OP_MUL,
  OP_LOAD, 0, OP_PUSH, 3, OP_SHL,
  OP_LOAD, 0, OP_DUP, OP_MUL, OP_PUSH, 7, OP_MOD,
  OP_SWAP, OP_SUB, OP_XOR, OP_STORE, 1,
  OP_LOAD, 0, OP_PUSH, 1, OP_ADD, OP_STORE, 0, OP_JMP, 8,
  /* 48: exit */
  OP_LOAD, 1, OP_HALT,
};

static int64_t interp_native(int64_t bound) {
  uint64_t acc = 1;
  for (int64_t i = 0; i < bound; i++)
    acc = (acc * 31) ^ (uint64_t)(i * i % 7 - (int64_t)((uint64_t)i << 3));
  return (int64_t)acc;
}

static int64_t interp_run(int64_t bound) {
  int64_t stack[16], local[4] = {0, 0, bound, 0};
  int sp = 0;
  size_t pc = 0;
  for (;;) {
    int32_t op = program[pc++];
    switch (op) {
    case OP_PUSH: stack[sp++] = program[pc++]; break;
    case OP_LOAD: stack[sp++] = local[program[pc++]]; break;
    case OP_STORE: local[program[pc++]] = stack[--sp]; break;
    case OP_ADD: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] + (uint64_t)stack[sp]); break;
    case OP_SUB: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] - (uint64_t)stack[sp]); break;
    case OP_MUL: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] * (uint64_t)stack[sp]); break;
    case OP_MOD: sp--; stack[sp - 1] %= stack[sp]; break;
    case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
    case OP_SHL: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] << (stack[sp] & 63)); break;
    case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case OP_SWAP: { int64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; } break;
    case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
    case OP_JNZ: pc = stack[--sp] ? (size_t)program[pc] : pc + 1; break;
    case OP_JMP: pc = (size_t)program[pc]; break;
    case OP_HALT: return stack[sp - 1];
    default: printf("interp: bad opcode %d at %zu\n", op, pc - 1); return 0;
    }
  }
}

static uint64_t phase_interp(long reps) {
  uint64_t sum = 0;
  for (long r = 0; r < reps; r++) {
    int64_t acc = interp_run(10000 + r);
    if (acc != interp_native(10000 + r)) {
      printf("interp: bytecode and C disagree at bound %ld\n", 10000 + r);
      return 0;
    }
    sum = sum * 3 + (uint64_t)acc;
  }
  return sum;
}

static void crc32_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++)
    c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static uint64_t phase_crc(long reps) {
  uint64_t sum = 0;
  for (long r = 0; r < reps; r++) {
    buf[(r * 7919) % BUF_BYTES] += 1;
    sum = (sum << 1) ^ crc32(buf, BUF_BYTES);
  }
  return sum;
}

int main(int argc, char **argv) {
  long scale = workload_scale(argc, argv);
  workload_rng_t rng = {0x5eed0001};
  for (size_t i = 0; i < BUF_BYTES; i += 8) {
    uint64_t v = workload_rng_next(&rng);
    memcpy(buf + i, &v, 8);
  }
  crc32_init();
  /* "123456789" is the standard CRC-32 check string. */
  printf("intmix scale %ld\n", scale);
  printf("crc32 check: %08x\n", crc32((const uint8_t *)"123456789", 9));
  printf("hash:   %016llx\n", (unsigned long long)phase_hash(scale * 32));
  printf("sort:   %016llx\n", (unsigned long long)phase_sort(scale * 12));
  printf("bits:   %016llx\n", (unsigned long long)phase_bits(scale));
  printf("arith:  %016llx\n", (unsigned long long)phase_arith(scale * 5));
  printf("interp: %016llx\n", (unsigned long long)phase_interp(scale));
  printf("crc:    %016llx\n", (unsigned long long)phase_crc(scale * 16));
  return 0;
}
