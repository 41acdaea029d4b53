/* Size, duration, count and CPU parsers: accepted forms, exact fractions,
 * and every malformed or overflowing input refused. */
#include "policy/parse.h"
#include "unit.h"

#include <string.h>

static uint64_t size_of(const char *s)
{
	uint64_t v = 12345;
	return parse_size(s, &v) == 0 ? v : 0xdead;
}

static uint64_t ms_of(const char *s)
{
	uint64_t v = 12345;
	return parse_duration_ms(s, &v) == 0 ? v : 0xdead;
}

int main(void)
{
	CHECK(size_of("0") == 0);
	CHECK(size_of("1048576") == 1048576);
	CHECK(size_of("512K") == 512 * 1024);
	CHECK(size_of("64M") == 64ull << 20);
	CHECK(size_of("64m") == 64ull << 20);
	CHECK(size_of("64MiB") == 64ull << 20);
	CHECK(size_of("64MB") == 64ull << 20);
	CHECK(size_of("1.5G") == 3ull << 29);
	CHECK(size_of("1.5K") == 1536);
	CHECK(size_of("2T") == 2ull << 40);
	CHECK(size_of("unlimited") == LIMIT_UNLIMITED);
	const char *bad_sizes[] = {"", "-1", "-1M", "1.5", "M", "1MM", "1X", "1 M", " 1M", "1.M",
	                           ".5M", "99999999999999999999", "16777216T", "18446744073709551615",
	                           "1e3", "0x10", "1,5G", "unlimitedX"};
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		uint64_t v;
		if (parse_size(bad_sizes[i], &v) == 0) {
			fprintf(stderr, "accepted bad size '%s'\n", bad_sizes[i]);
			CHECK(!"bad size accepted");
		}
	}
	CHECK(parse_size(NULL, &(uint64_t){0}) < 0);

	CHECK(ms_of("250ms") == 250);
	CHECK(ms_of("10s") == 10000);
	CHECK(ms_of("10") == 10000);
	CHECK(ms_of("1.5s") == 1500);
	CHECK(ms_of("5m") == 300000);
	CHECK(ms_of("1h") == 3600000);
	CHECK(ms_of("0.25h") == 900000);
	CHECK(ms_of("unlimited") == LIMIT_UNLIMITED);
	const char *bad_durations[] = {"", "-5s", "5x", "s", "5 s", "5sec", "1.s", "99999999999999999999h",
	                               "5S", "ms"};
	for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++) {
		uint64_t v;
		if (parse_duration_ms(bad_durations[i], &v) == 0) {
			fprintf(stderr, "accepted bad duration '%s'\n", bad_durations[i]);
			CHECK(!"bad duration accepted");
		}
	}

	uint64_t n;
	CHECK(parse_count("256", &n) == 0 && n == 256);
	CHECK(parse_count("unlimited", &n) == 0 && n == LIMIT_UNLIMITED);
	CHECK(parse_count("1.5", &n) < 0);
	CHECK(parse_count("-1", &n) < 0);
	CHECK(parse_count("18446744073709551616", &n) < 0);
	CHECK(parse_cpus_milli("1.5", &n) == 0 && n == 1500);
	CHECK(parse_cpus_milli("0.25", &n) == 0 && n == 250);
	CHECK(parse_cpus_milli("2", &n) == 0 && n == 2000);
	CHECK(parse_cpus_milli("-1", &n) < 0);
	CHECK(parse_cpus_milli("1.5x", &n) < 0);

	char buf[32];
	format_size(64ull << 20, buf, sizeof buf);
	CHECK(strcmp(buf, "64M") == 0);
	format_size(1536, buf, sizeof buf);
	CHECK(strcmp(buf, "1536") == 0);
	format_size(LIMIT_UNLIMITED, buf, sizeof buf);
	CHECK(strcmp(buf, "unlimited") == 0);
	format_duration_ms(250, buf, sizeof buf);
	CHECK(strcmp(buf, "250ms") == 0);
	format_duration_ms(300000, buf, sizeof buf);
	CHECK(strcmp(buf, "300s") == 0);
	return unit_done();
}
