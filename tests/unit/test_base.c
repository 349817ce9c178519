/*
 * Unit tests of src/base: arenas, buffers, slices, durations, sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static void
test_arena_bound(void **state)
{
    struct arena a;
    char *p;

    arena_init(&a, 256, 1024);
    p = arena_alloc(&a, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_non_null(arena_alloc(&a, 500));
    assert_null(arena_alloc(&a, 4096));        /* past the bound */
    assert_non_null(arena_alloc(&a, 16));      /* still usable */
    arena_reset(&a);
    assert_true(a.total <= 256 + 64);
    p = arena_printf(&a, "%s-%d", "id", 42);
    assert_string_equal(p, "id-42");
    p = arena_dup(&a, "abcdef", 3);
    assert_string_equal(p, "abc");
    arena_fini(&a);
    arena_fini(&a);                            /* twice is harmless */
}

static void
test_buf_fixed_capacity(void **state)
{
    struct buf b;

    assert_int_equal(buf_init(&b, 8), AW_OK);
    assert_int_equal(buf_append(&b, "12345", 5), AW_OK);
    assert_int_equal(buf_append(&b, "6789", 4), AW_TOOBIG);
    assert_int_equal(buf_len(&b), 5);
    b.start = 3;                               /* consume "123" */
    assert_int_equal(buf_append(&b, "6789", 4), AW_OK);
    assert_memory_equal(b.data + b.start, "456789", 6);
    assert_int_equal(buf_printf(&b, "%d", 123), AW_TOOBIG);
    buf_fini(&b);
}

static void
test_slice_numbers(void **state)
{
    uint64_t v;

    assert_int_equal(slice_to_u64(SLICE_LIT("0"), 10, &v), AW_OK);
    assert_int_equal(v, 0);
    assert_int_equal(slice_to_u64(SLICE_LIT("18446744073709551615"),
                                  UINT64_MAX, &v), AW_OK);
    assert_int_equal(slice_to_u64(SLICE_LIT("18446744073709551616"),
                                  UINT64_MAX, &v), AW_TOOBIG);
    assert_int_equal(slice_to_u64(SLICE_LIT("11"), 10, &v), AW_TOOBIG);
    assert_int_equal(slice_to_u64(SLICE_LIT(""), 10, &v), AW_INVALID);
    assert_int_equal(slice_to_u64(SLICE_LIT("+1"), 10, &v), AW_INVALID);
    assert_int_equal(slice_to_u64(SLICE_LIT("1 "), 10, &v), AW_INVALID);
    assert_true(slice_eq_nocase(SLICE_LIT("Host"), SLICE_LIT("hOST")));
    assert_false(slice_eq_nocase(SLICE_LIT("Host"), SLICE_LIT("Hos")));
    assert_true(slice_is(SLICE_LIT("Content-Length"), "content-length"));
}

static void
test_durations_and_sizes(void **state)
{
    uint64_t v;

    assert_int_equal(duration_parse_ms(SLICE_LIT("250ms"), &v), AW_OK);
    assert_int_equal(v, 250);
    assert_int_equal(duration_parse_ms(SLICE_LIT("10s"), &v), AW_OK);
    assert_int_equal(v, 10000);
    assert_int_equal(duration_parse_ms(SLICE_LIT("2m"), &v), AW_OK);
    assert_int_equal(v, 120000);
    assert_int_equal(duration_parse_ms(SLICE_LIT("3"), &v), AW_OK);
    assert_int_equal(v, 3000);
    assert_int_equal(duration_parse_ms(SLICE_LIT("s"), &v), AW_INVALID);
    assert_int_equal(duration_parse_ms(SLICE_LIT("5x"), &v), AW_INVALID);
    assert_int_equal(size_parse(SLICE_LIT("16k"), &v), AW_OK);
    assert_int_equal(v, 16384);
    assert_int_equal(size_parse(SLICE_LIT("1m"), &v), AW_OK);
    assert_int_equal(v, 1048576);
    assert_int_equal(size_parse(SLICE_LIT("2048g"), &v), AW_TOOBIG);
    assert_int_equal(size_parse(SLICE_LIT("-1"), &v), AW_INVALID);
}

static void
test_log_escape(void **state)
{
    char out[32];

    log_escape(out, sizeof(out), SLICE_LIT("a\"b\n"));
    assert_string_equal(out, "a\\x22b\\x0a");
    log_escape(out, 12, SLICE_LIT("0123456789abcdef"));
    assert_string_equal(out, "01234567...");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_bound),
        cmocka_unit_test(test_buf_fixed_capacity),
        cmocka_unit_test(test_slice_numbers),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_log_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
