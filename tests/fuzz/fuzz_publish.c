/*
 * fuzz_publish.c - libFuzzer target for what `abyss publish` reads from the
 * network: the service's output payloads (pub_result_payload), the
 * MessageId stamp of echoed messages (pub_message_stamp) and ResultId
 * strings (pub_result_seq). The first 4 bytes pick the run nonce and the
 * number of holes sent; the rest is the payload. Also checks the id scheme
 * round trip for the nonce. Includes the pure half of the generator
 * directly (publish_tpl.c is not in libabyss). Replayed by `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/publish_tpl.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t nonce;
	uint64_t max_seq, seq;
	const char *p = (const char *)data;
	char buf[32];
	bool err;
	int64_t s;

	if (size < 4)
		return 0;
	nonce = ((uint32_t)data[0] << 8 | data[1]) % 90000;
	max_seq = (uint64_t)data[2] << 8 | data[3];
	p += 4;
	size -= 4;
	s = pub_result_payload(nonce, p, size, max_seq, &err);
	if (s >= (int64_t)max_seq || s < -1)
		abort();
	s = pub_message_stamp(nonce, p, size);
	if (s < -1 || s > 0xffffffffLL)
		abort();
	s = pub_result_seq(nonce, p, size, max_seq);
	if (s >= (int64_t)max_seq || s < -1)
		abort();
	/* every id we hand out decodes back to its hole */
	seq = max_seq ? max_seq - 1 : 0;
	snprintf(buf, sizeof(buf), "%llu",
		 (unsigned long long)pub_result_id(nonce, seq));
	if (pub_result_seq(nonce, buf, strlen(buf), seq + 1) != (int64_t)seq)
		abort();
	return 0;
}
