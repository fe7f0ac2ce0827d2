/* webhook_addr: the address classifier of the SSRF guard. A webhook target
 * is chosen by a tenant, so without a guard a subscription could make the
 * daemon POST to its own host, the LAN, or a cloud metadata service
 * (169.254.169.254). The dispatcher asks this classifier about every
 * address libcurl is about to connect to (after DNS, so a name that
 * resolves, or rebinds, to a private address is caught), and the API asks
 * it about literal addresses in URLs. Pure functions over bytes. */
#include "webhook/webhook.h"

#include <netinet/in.h>
#include <string.h>

/* in4() tells whether a (4 bytes) is in net/prefix (net in host order). */
static int
in4(const unsigned char *a, uint32_t net, int prefix)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);

	return (v & mask) == (net & mask);
}

static enum webhook_addr_class
classify4(const unsigned char *a)
{
	if (in4(a, 0x00000000, 8))
		return WEBHOOK_ADDR_UNSPECIFIED;	/* "this network" */
	if (in4(a, 0x7f000000, 8))
		return WEBHOOK_ADDR_LOOPBACK;
	if (in4(a, 0x0a000000, 8) || in4(a, 0xac100000, 12) || in4(a, 0xc0a80000, 16))
		return WEBHOOK_ADDR_PRIVATE;
	if (in4(a, 0xa9fe0000, 16))
		return WEBHOOK_ADDR_LINKLOCAL;
	if (in4(a, 0x64400000, 10))
		return WEBHOOK_ADDR_CGNAT;
	if (in4(a, 0xe0000000, 4))
		return WEBHOOK_ADDR_MULTICAST;
	/* 240/4 (future use) holds the broadcast address too; 192.0.0/24 is
	 * protocol assignments; 198.18/15 benchmarking networks, often used
	 * inside data centres. */
	if (in4(a, 0xf0000000, 4) || in4(a, 0xc0000000, 24) || in4(a, 0xc6120000, 15))
		return WEBHOOK_ADDR_RESERVED;
	return WEBHOOK_ADDR_PUBLIC;
}

static int
zero(const unsigned char *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

static enum webhook_addr_class
classify6(const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

	if (zero(a, 16))
		return WEBHOOK_ADDR_UNSPECIFIED;
	if (zero(a, 15) && a[15] == 1)
		return WEBHOOK_ADDR_LOOPBACK;
	/* Forms that carry an IPv4 address: the packets go to that address
	 * (the kernel for mapped ones, a translator for NAT64 and 6to4). */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 || zero(a, 12))
		return classify4(a + 12);	/* ::a.b.c.d is the old IPv4-compatible form */
	if (a[0] == 0x20 && a[1] == 0x02)
		return classify4(a + 2);	/* 6to4 */
	/* 64:ff9b:1::/48 (RFC 8215) is NAT64 for a site's own translators,
	 * where the IPv4 address may sit at any of RFC 6052's offsets: never a
	 * public destination, and it may reach 169.254.169.254 or the LAN. */
	if (memcmp(a, nat64, 4) == 0 && a[4] == 0 && a[5] == 1)
		return WEBHOOK_ADDR_RESERVED;
	if ((a[0] & 0xfe) == 0xfc)
		return WEBHOOK_ADDR_PRIVATE;	/* unique local fc00::/7 */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return WEBHOOK_ADDR_LINKLOCAL;	/* fe80::/10 */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return WEBHOOK_ADDR_PRIVATE;	/* site-local fec0::/10, deprecated */
	if (a[0] == 0xff)
		return WEBHOOK_ADDR_MULTICAST;
	if (a[0] == 0x01 && a[1] == 0 && zero(a + 2, 6))
		return WEBHOOK_ADDR_RESERVED;	/* discard-only 100::/64 */
	return WEBHOOK_ADDR_PUBLIC;
}

enum webhook_addr_class
webhook_addr_classify(int family, const unsigned char *addr)
{
	if (family == AF_INET)
		return classify4(addr);
	if (family == AF_INET6)
		return classify6(addr);
	return WEBHOOK_ADDR_INVALID;
}

enum webhook_addr_class
webhook_addr_classify_sa(const struct sockaddr *sa)
{
	if (sa == NULL)
		return WEBHOOK_ADDR_INVALID;
	if (sa->sa_family == AF_INET)
		return classify4((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return classify6((const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return WEBHOOK_ADDR_INVALID;
}

const char *
webhook_addr_class_name(enum webhook_addr_class c)
{
	switch (c) {
	case WEBHOOK_ADDR_PUBLIC: return "public";
	case WEBHOOK_ADDR_LOOPBACK: return "loopback";
	case WEBHOOK_ADDR_PRIVATE: return "private";
	case WEBHOOK_ADDR_LINKLOCAL: return "link-local";
	case WEBHOOK_ADDR_CGNAT: return "shared (CGNAT)";
	case WEBHOOK_ADDR_UNSPECIFIED: return "unspecified";
	case WEBHOOK_ADDR_MULTICAST: return "multicast";
	case WEBHOOK_ADDR_RESERVED: return "reserved";
	case WEBHOOK_ADDR_INVALID: break;
	}
	return "invalid";
}
