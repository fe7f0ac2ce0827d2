/* dkim_keys: DKIM key files (dkim_keys.c), the in-memory key ring
 * (dkim_keyring.c), and the DNS records a sending domain publishes
 * (dkim_records.c: DKIM, SPF, DMARC, bounce MX, MTA-STS, TLS-RPT).
 *
 * Key files live at DATA_DIR/dkim/DOMAIN.SELECTOR.ALGO.pem (ALGO is "rsa" or
 * "ed25519"), mode 0600, PKCS#8 PEM. The records are built by a pure
 * function so that the CLI (`hermod domain add`) and the HTTP API
 * (`POST /v1/domains`) print the same thing. */
#ifndef HERMOD_DKIM_KEYS_H
#define HERMOD_DKIM_KEYS_H
#include <stddef.h>

#include "dkim/dkim_sign.h"
#include "util/buf.h"

/* With both algorithms the Ed25519 key's selector is SELECTOR-ed: two keys
 * cannot share one DNS name. */
#define DKIM_ED_SUFFIX	"-ed"

/* dkim_keys_path() returns DATA_DIR/dkim/DOMAIN.SELECTOR.ALGO.pem (caller
 * frees); algo is one DKIM_ALGO_ bit. */
char	*dkim_keys_path(const char *data_dir, const char *domain, const char *selector, int algo);

/* dkim_keys_generate() makes a new private key (RSA-2048 or Ed25519) and
 * returns it as PKCS#8 PEM in *pem (caller frees). 0, or -1 with *err. */
int	dkim_keys_generate(int algo, char **pem, char **err);

/* dkim_keys_create() makes the key for (domain, selector, algo) under
 * data_dir unless its file exists already (keys are never replaced behind
 * the user's back: rotation uses a new selector), writes it mode 0600
 * through fs_write_atomic(), and loads it into *out. Blocking. 0, or -1
 * with *err. */
int	dkim_keys_create(const char *data_dir, const char *domain, const char *selector,
	    int algo, struct dkim_key **out, char **err);

/* dkim_keys_default_selector() writes the selector a new domain gets when
 * the user names none: "hm" and the year and month (hm202611), so that a
 * rotation next month gets a different name by itself. */
void	dkim_keys_default_selector(char *out, size_t size, long long now);

/* dkim_keys_set_active() records that selector is the one to sign with for
 * domain (DATA_DIR/dkim/DOMAIN.active), once `domain check` saw its record
 * published: key rings switch to it within seconds, without a restart.
 * Blocking. 0, or -1 with *err. */
int	dkim_keys_set_active(const char *data_dir, const char *domain, const char *selector,
	    char **err);
/* dkim_keys_active() is the selector recorded by dkim_keys_set_active() when
 * its key files exist (caller frees), else NULL. Blocking (reads a file). */
char	*dkim_keys_active(const char *data_dir, const char *domain);

/* The key ring: every domain's parsed keys, loaded from data_dir on first
 * use and kept for the life of the process (parsing PEM for each message is
 * what makes libopendkim slow, see dkim_sign.c). Thread safe: worker threads
 * sign through one ring. */
struct dkim_keyring;

struct dkim_keyring *dkim_keyring_new(const char *data_dir);
void	dkim_keyring_free(struct dkim_keyring *ring);
/* dkim_keyring_sign() signs msg for domain with every key found for
 * selector (RSA and/or Ed25519; selector NULL: the one set with
 * dkim_keyring_set_selector(), else the one dkim_keys_set_active() named,
 * else the oldest key on disk; looked up again every few seconds) and appends the DKIM-Signature
 * fields to out. Blocking the first time (reads the key files). Returns 0,
 * DKIM_KEYS_NOKEY when the domain has no key (nothing appended; send
 * unsigned or hold, the caller's policy), or -1 with *err. */
#define DKIM_KEYS_NOKEY	1
int	dkim_keyring_sign(struct dkim_keyring *ring, const char *domain, const char *selector,
	    const char *msg, size_t len, long long now, struct buf *out, char **err);
/* dkim_keyring_sign_from() is dkim_keyring_sign() for the domain of the
 * message's From address: the From domain itself or, failing that, the
 * nearest parent that has a key (news.shop.example signs as shop.example,
 * which DMARC's relaxed alignment accepts). Non-ASCII domains are looked up
 * by their A-label. Same results as dkim_keyring_sign(); DKIM_KEYS_NOKEY
 * also when the message has no usable From address. */
int	dkim_keyring_sign_from(struct dkim_keyring *ring, const char *msg, size_t len,
	    long long now, struct buf *out, char **err);
/* dkim_keyring_sign_message() signs msg in place for the domain of its From
 * address (dkim_keyring_sign_from) and inserts the DKIM-Signature field(s)
 * after the trace fields at the top of the header (Received, Return-Path:
 * the hop that brought the message to hermod stays first, later hops
 * prepend above). Returns what dkim_keyring_sign_from() returns; msg is
 * unchanged unless 0. This is the one call the submission paths need, on a
 * worker thread, once per message before it is spooled. */
int	dkim_keyring_sign_message(struct dkim_keyring *ring, struct buf *msg, long long now,
	    char **err);
/* dkim_from_domain() copies the lower-cased domain of the From address of
 * msg into out (size bytes); 0, or -1 when there is no From field or no
 * domain in it. Pure. */
int	dkim_from_domain(const char *msg, size_t len, char *out, size_t size);
/* dkim_keyring_set_selector() makes selector the one used for domain when
 * dkim_keyring_sign() is given none (rotation: switch once the new record
 * is seen in DNS). */
void	dkim_keyring_set_selector(struct dkim_keyring *ring, const char *domain,
	    const char *selector);

/* One DNS record to publish. All strings are owned by the record set. */
struct dkim_record {
	char	*type;		/* "TXT", "MX" */
	char	*name;		/* fully qualified, no final dot */
	char	*value;		/* the record data as a DNS panel takes it */
	char	*purpose;	/* one paragraph for a human */
};

struct dkim_records {
	char			*domain;
	char			*selector;	/* the selector given or made (setup) */
	struct dkim_record	*v;
	size_t			 n;
};

/* What the records depend on. Only domain and hostname are required. */
struct dkim_records_params {
	const char	*domain;	/* the sending domain (From:) */
	const char	*hostname;	/* server.hostname: EHLO name, MX target */
	const char	*bounce_domain;	/* envelope sender domain; NULL: bounce.DOMAIN */
	const char	*const *spf_ips; /* sending addresses (ip4/ip6, CIDR ok); NULL-ended */
	const char	*spf_include;	/* or an include: domain; else a:HOSTNAME */
	const char	*dmarc_rua;	/* NULL: mailto:dmarc-reports@DOMAIN */
	int		 mta_sts;	/* also MTA-STS and TLS-RPT (optional) */
	long long	 now;		/* for the MTA-STS policy id */
	/* DKIM keys to publish: selector and TXT value each */
	size_t		 nkeys;
	const char	*selectors[2];
	const char	*key_txt[2];
};

/* dkim_records_build() fills out with the records to publish, pure: DKIM TXT
 * at SEL._domainkey.DOMAIN for each key, SPF TXT and MX at the bounce
 * domain, DMARC TXT at _dmarc.DOMAIN, and when asked MTA-STS and TLS-RPT. */
void	dkim_records_build(const struct dkim_records_params *p, struct dkim_records *out);
void	dkim_records_free(struct dkim_records *r);
/* dkim_records_json() appends {"domain": ..., "records": [{"type", "name",
 * "value", "purpose"}, ...]} (SPEC.md). */
void	dkim_records_json(const struct dkim_records *r, struct buf *out);
/* dkim_records_json_items() appends only the record objects, separated by
 * commas, for a caller that writes the surrounding object itself. */
void	dkim_records_json_items(const struct dkim_records *r, struct buf *out);
/* dkim_records_text() appends the records for a terminal: one block each. */
void	dkim_records_text(const struct dkim_records *r, struct buf *out);

/* dkim_domain_setup() is what `hermod domain add` and POST /v1/domains call:
 * makes (or reuses) the key(s) for domain under data_dir, algos a mask of
 * DKIM_ALGO_ bits (0: RSA), selector NULL for the default; with both algos
 * the Ed25519 key gets SELECTOR-ed (two keys cannot share one DNS name).
 * bounce_domain is inbound.bounce_domain (NULL or "": bounce.DOMAIN), the domain of
 * the return path whose MX and SPF records are listed.
 * hostname is server.hostname. Fills out with the records to publish.
 * Blocking (key generation and fsync). 0, or -1 with *err. */
int	dkim_domain_setup(const char *data_dir, const char *domain, const char *selector,
	    int algos, const char *hostname, const char *bounce_domain, struct dkim_records *out,
	    char **err);

/* dkim_domain_records() builds the records of a domain whose key(s) exist
 * already, reading them only (GET /v1/domains/{domain}, `domain check`):
 * selector and algos as given to dkim_domain_setup(). 0, or -1 with *err
 * (a missing key file is an error here). */
int	dkim_domain_records(const char *data_dir, const char *domain, const char *selector,
	    int algos, const char *hostname, const char *bounce_domain, struct dkim_records *out,
	    char **err);

/* dkim_algos_parse() maps "rsa", "ed25519", "rsa+ed25519" (also "dual",
 * "both") to DKIM_ALGO_ bits; 0 when s is none of them (NULL or "" gives
 * DKIM_ALGO_RSA, the default). dkim_algos_name() is the reverse, with the
 * names the store keeps ("rsa", "ed25519", "rsa+ed25519"). */
int	dkim_algos_parse(const char *s);
const char *dkim_algos_name(int algos);
/* dkim_selectors() gives the selector of each key of a domain set up with
 * selector and algos: (*rsa, *ed) are selector or NULL, and with both
 * algos the Ed25519 one is SELECTOR-ed. Caller frees both. */
void	dkim_selectors(const char *selector, int algos, char **rsa, char **ed);

#endif
