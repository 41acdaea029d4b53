/* The MCP server's framing and encoding helpers: newline-delimited reading
 * with a size bound (split reads, over-long lines, a last line without a
 * newline) and base64 in both directions. */
#include "mcp/jsonrpc.h"
#include "unit.h"
#include "util/base64.h"

#include <string.h>
#include <unistd.h>

static int feed(int fd, const char *text)
{
	return write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
}

static void test_split_lines(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	struct line_reader lr;
	line_reader_init(&lr, 16);
	char *line;
	size_t len;

	CHECK(feed(p[1], "{\"a\":") == 0);
	CHECK(line_reader_fill(&lr, p[0]) == 5);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_NONE);
	CHECK(feed(p[1], "1}\n\nxy\n") == 0);
	CHECK(line_reader_fill(&lr, p[0]) > 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_READY);
	CHECK(len == 7 && strcmp(line, "{\"a\":1}") == 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_READY);
	CHECK(len == 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_READY);
	CHECK(len == 2 && strcmp(line, "xy") == 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_NONE);

	/* Over-long, arriving in pieces: reported once, then skipped to its
	 * newline; the next line is intact. */
	CHECK(feed(p[1], "0123456789abcdefghij") == 0);
	CHECK(line_reader_fill(&lr, p[0]) > 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_TOO_LONG);
	CHECK(feed(p[1], "klmnop\nok\n") == 0);
	CHECK(line_reader_fill(&lr, p[0]) > 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_READY);
	CHECK(len == 2 && strcmp(line, "ok") == 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_NONE);

	/* Over-long with its newline in the same read. */
	CHECK(feed(p[1], "0123456789abcdefghijkl\nnext\n") == 0);
	CHECK(line_reader_fill(&lr, p[0]) > 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_TOO_LONG);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_READY);
	CHECK(strcmp(line, "next") == 0);

	/* End of stream: a last line without a newline still counts. */
	CHECK(feed(p[1], "tail") == 0);
	close(p[1]);
	CHECK(line_reader_fill(&lr, p[0]) == 4);
	CHECK(line_reader_fill(&lr, p[0]) == 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_READY);
	CHECK(len == 4 && strcmp(line, "tail") == 0);
	CHECK(line_reader_next(&lr, &line, &len) == LINE_NONE);
	line_reader_free(&lr);
	close(p[0]);
}

static void test_base64(void)
{
	static const struct {
		const char *plain;
		const char *encoded;
	} vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
	               {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
	               {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		char *enc = base64_encode(vectors[i].plain, strlen(vectors[i].plain));
		CHECK(enc && strcmp(enc, vectors[i].encoded) == 0);
		free(enc);
		unsigned char *dec = NULL;
		size_t len = 0;
		CHECK(base64_decode(vectors[i].encoded, strlen(vectors[i].encoded), &dec, &len) == 0);
		CHECK(len == strlen(vectors[i].plain) && memcmp(dec, vectors[i].plain, len) == 0);
		free(dec);
	}
	static const unsigned char binary[] = {0, 1, 2, 0xff, 0xfe, 0x80};
	char *enc = base64_encode(binary, sizeof binary);
	unsigned char *dec = NULL;
	size_t len = 0;
	CHECK(enc && base64_decode(enc, strlen(enc), &dec, &len) == 0 && len == sizeof binary &&
	      memcmp(dec, binary, len) == 0);
	free(enc);
	free(dec);
	static const char *const bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9v\n", "Zm 9", "=Zg=", "Zg=a"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(base64_decode(bad[i], strlen(bad[i]), &dec, &len) < 0);
		CHECK(dec == NULL);
	}
}

int main(void)
{
	test_split_lines();
	test_base64();
	return unit_done();
}
