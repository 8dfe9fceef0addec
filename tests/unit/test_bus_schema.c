/* The message schema (src/bus/messages.def) is well formed, and
 * docs/messages.md is what vmx_msg_write_markdown() makes of it.
 *
 *   test_bus_schema --write-docs   regenerates docs/messages.md
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/bus.h"

/* docs/messages.md in the source tree, found from this file's path. */
static char *docs_path(void) {
  static char path[4096];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *cut = strstr(path, "/tests/unit/");
  if (!cut)
    return NULL;
  snprintf(cut, sizeof path - (size_t)(cut - path), "/docs/messages.md");
  return path;
}

/* The Markdown the schema makes, in *text (free it). */
static void generate(char **text, size_t *len) {
  *text = NULL;
  FILE *f = open_memstream(text, len);
  assert_int_equal(vmx_msg_write_markdown(f), 0);
  fclose(f);
}

static void test_every_message_type_has_a_complete_schema(void **state) {
  assert_null(vmx_msg_schema(VMX_MSG_INVALID));
  assert_null(vmx_msg_schema(VMX_MSG_COUNT));
  assert_true(VMX_TOPIC_COUNT <= 64);
  for (uint32_t t = 1; t < VMX_MSG_COUNT; t++) {
    const vmx_msg_schema_t *s = vmx_msg_schema(t);
    assert_non_null(s);
    assert_int_equal(s->type, t);
    assert_true(s->version >= 1);
    assert_true(s->topic < VMX_TOPIC_COUNT);
    assert_true(strlen(s->name) > 0 && strlen(s->doc) > 0);
    assert_int_equal(vmx_msg_topic(t), s->topic);
    for (unsigned i = 0; i < s->nfields; i++) {
      assert_non_null(vmx_field_type_name(s->fields[i].type));
      assert_true(strlen(s->fields[i].doc) > 0);
      for (unsigned j = 0; j < i; j++)
        assert_string_not_equal(s->fields[i].name, s->fields[j].name);
    }
    assert_null(s->fields[s->nfields].name);
    for (uint32_t u = 1; u < t; u++)
      assert_string_not_equal(vmx_msg_schema(u)->name, s->name);
  }
  for (unsigned t = 0; t < VMX_TOPIC_COUNT; t++)
    assert_true(vmx_topic_name(t) && vmx_topic_doc(t));
  assert_null(vmx_topic_name(VMX_TOPIC_COUNT));
}

static void test_docs_list_every_message_and_field(void **state) {
  size_t len;
  char *text;
  generate(&text, &len);
  for (uint32_t t = 1; t < VMX_MSG_COUNT; t++) {
    const vmx_msg_schema_t *s = vmx_msg_schema(t);
    char heading[96];
    snprintf(heading, sizeof heading, "\n### %s\n", s->name);
    assert_non_null(strstr(text, heading));
    for (unsigned i = 0; i < s->nfields; i++) {
      char row[96];
      snprintf(row, sizeof row, "| %s | %s |", s->fields[i].name,
               vmx_field_type_name(s->fields[i].type));
      assert_non_null(strstr(strstr(text, heading), row));
    }
  }
  free(text);
}

static void test_docs_messages_md_is_up_to_date(void **state) {
  const char *path = docs_path();
  assert_non_null(path);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("%s is missing: run test_bus_schema --write-docs", path);
  size_t len;
  char *want;
  generate(&want, &len);
  char *have = malloc(len + 2);
  size_t got = fread(have, 1, len + 1, f);
  fclose(f);
  if (got != len || memcmp(have, want, len) != 0)
    fail_msg("%s is out of date with src/bus/messages.def: run test_bus_schema --write-docs",
             path);
  free(have);
  free(want);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--write-docs") == 0) {
    const char *path = docs_path();
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f || vmx_msg_write_markdown(f) != 0 || fclose(f) != 0) {
      fprintf(stderr, "test_bus_schema: cannot write %s\n", path ? path : "docs/messages.md");
      return 1;
    }
    printf("wrote %s\n", path);
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_message_type_has_a_complete_schema),
      cmocka_unit_test(test_docs_list_every_message_and_field),
      cmocka_unit_test(test_docs_messages_md_is_up_to_date),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
