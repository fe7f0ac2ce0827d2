/* inbound: the listener for bounces and feedback reports, and the durable
 * hand-off of what it accepts.
 *
 * DESIGN. A report is acknowledged (250) only once it is on disk: the
 * session hands the message to inbound_store() on the loop, a worker writes
 * data_dir/inbound/tmp/ID (envelope lines, then the message), fsyncs it,
 * renames it into inbound/new/ and fsyncs the directory; only then does the
 * session answer. Processing (parse, map, emit events) is a second worker
 * job on that file, which removes it when done, once its events are in the
 * events store (events_wait_stored), or moves it to inbound/unmatched/.
 * A crash between the two leaves the file in new/, and
 * the next start processes it: a report is processed at least once. Nothing
 * here blocks the loop: files and the store are touched on workers only.
 *
 * The file's envelope lines (ours, so they cannot be forged by the sender:
 * SMTP paths hold no CR or LF) are:
 *
 *	hermod-inbound 1
 *	client 192.0.2.1
 *	helo mx.example
 *	from <return path, empty for <>>
 *	to <recipient>			(one per accepted RCPT)
 *	(empty line)
 *	the message as received */
#include "inbound/inbound.h"
#include "smtp/smtp_server.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/fsutil.h"
#include "util/id.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct inbound {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct store		*st;
	const struct verp_key	*key;
	struct smtp_inbound_ops	 ops;
	struct smtp_server	*srv;
	char			*dir;		/* data_dir/inbound */
	char			 start_id[ID_LEN + 1]; /* reports named before it are a previous run's */
	unsigned		 jobs;		/* worker jobs in flight */
	int			 sessions_gone;	/* draining: the listener is done */
	void			(*drained)(void *arg);
	void			*drained_arg;
};

/* drain_check() reports the end of a drain once the sessions are gone and
 * no report is being stored or processed (so its events are emitted
 * before the event pipeline stops). */
static void
drain_check(struct inbound *in)
{
	if (in->drained != NULL && in->sessions_gone && in->jobs == 0) {
		void (*fn)(void *) = in->drained;
		in->drained = NULL;
		fn(in->drained_arg);
	}
}

/* --- processing jobs ------------------------------------------------------ */

struct proc_job {
	uv_work_t		 req;
	struct inbound		*in;
	char			*path;		/* NULL: scan new/ (start) */
};

static void
process_one(struct inbound *in, const char *path)
{
	inbound_process_file(in->cfg->data_dir, in->st, in->key, path);
}

static void
proc_work(uv_work_t *req)
{
	struct proc_job *j = req->data;
	char *newdir;
	DIR *d;
	struct dirent *e;

	if (j->path != NULL) {
		process_one(j->in, j->path);
		return;
	}
	/* At start: what a previous run accepted and did not finish. */
	newdir = xasprintf("%s/new", j->in->dir);
	if ((d = opendir(newdir)) != NULL) {
		size_t n = 0;
		while ((e = readdir(d)) != NULL) {
			char *p;
			/* Ids sort by time: a report that arrives during the
			 * scan has its own job already. */
			if (e->d_name[0] == '.' || strcmp(e->d_name, j->in->start_id) >= 0)
				continue;
			p = xasprintf("%s/%s", newdir, e->d_name);
			process_one(j->in, p);
			free(p);
			n++;
		}
		closedir(d);
		if (n)
			log_info("inbound", "processed %zu reports left from the last run", n);
	}
	free(newdir);
}

static void
proc_after(uv_work_t *req, int status)
{
	struct proc_job *j = req->data;

	struct inbound *in = j->in;

	(void)status;
	in->jobs--;
	free(j->path);
	free(j);
	drain_check(in);
}

static void
proc_queue(struct inbound *in, char *path)
{
	struct proc_job *j = xcalloc(1, sizeof(*j));

	j->in = in;
	j->path = path;
	j->req.data = j;
	in->jobs++;
	if (uv_queue_work(in->loop, &j->req, proc_work, proc_after) != 0) {
		/* stays in new/: the next start processes it */
		in->jobs--;
		free(j->path);
		free(j);
	}
}

/* --- durable hand-off -------------------------------------------------------- */

struct store_job {
	uv_work_t		 req;
	struct inbound		*in;
	struct buf		 file;		/* envelope lines + message */
	char			 id[ID_LEN + 1];
	char			*final;		/* new/ID once written */
	int			 err;
	void			(*done)(int err, void *arg);
	void			*arg;
};

/* write_all_sync() writes data to a new file path (mode 0600) and fsyncs it. */
static int
write_all_sync(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			unlink(path);
			return -e;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return -e;
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(path);
		return -e;
	}
	return 0;
}

static void
store_work(uv_work_t *req)
{
	struct store_job *j = req->data;
	char *tmp = xasprintf("%s/tmp/%s", j->in->dir, j->id);
	char *fin = xasprintf("%s/new/%s", j->in->dir, j->id);
	char *newdir = xasprintf("%s/new", j->in->dir);

	j->err = write_all_sync(tmp, j->file.data, j->file.len);
	if (j->err == 0 && rename(tmp, fin) < 0) {
		j->err = -errno;
		unlink(tmp);
	}
	if (j->err == 0 && fs_fsync_dir(newdir) < 0)
		j->err = -errno;
	if (j->err == 0) {
		j->final = fin;
		fin = NULL;
	}
	free(tmp);
	free(fin);
	free(newdir);
}

static void
store_after(uv_work_t *req, int status)
{
	struct store_job *j = req->data;
	struct inbound *in = j->in;
	int err = status != 0 ? -ECANCELED : j->err;

	in->jobs--;
	if (err != 0)
		log_error("inbound", "cannot store report %s: %s", j->id, strerror(-err));
	j->done(err, j->arg);
	if (err == 0)
		proc_queue(in, j->final);	/* takes the path */
	else
		free(j->final);
	buf_free(&j->file);
	free(j);
	drain_check(in);
}

static int
inbound_store(void *ctx, const struct smtp_inbound_msg *m, void (*done)(int err, void *arg), void *arg)
{
	struct inbound *in = ctx;
	struct store_job *j = xcalloc(1, sizeof(*j));

	j->in = in;
	j->done = done;
	j->arg = arg;
	id_new(j->id);
	buf_init(&j->file);
	buf_reserve(&j->file, m->len + 512);
	buf_printf(&j->file, "hermod-inbound 1\r\nclient %s\r\nhelo %s\r\nfrom %s\r\n", m->client,
	    m->helo ? m->helo : "", m->mail_from);
	for (size_t i = 0; i < m->nrcpt; i++)
		buf_printf(&j->file, "to %s\r\n", m->rcpt[i]);
	buf_puts(&j->file, "\r\n");
	buf_append(&j->file, m->data, m->len);
	{
		struct log_line *l = log_begin(LOG_INFO, "inbound");
		log_str(l, "msg", "report received");
		log_str(l, "report", j->id);
		log_str(l, "client", m->client);
		log_int(l, "size", (int64_t)m->len);
		log_int(l, "recipients", (int64_t)m->nrcpt);
		log_end(l);
	}
	j->req.data = j;
	in->jobs++;
	if (uv_queue_work(in->loop, &j->req, store_work, store_after) != 0) {
		in->jobs--;
		buf_free(&j->file);
		free(j);
		return -1;
	}
	return 0;
}

/* --- recipients --------------------------------------------------------------- */

/* domain_registered() tells whether d or one of its parents is a
 * registered sending domain (an account may send from subdomains). */
static int
domain_registered(struct store *st, const char *d)
{
	for (int hops = 0; d != NULL && *d != '\0' && hops < 16; hops++) {
		char *err = NULL;
		int rc = store_domain_owner(st, d, NULL, NULL, &err);
		free(err);
		if (rc == 0)
			return 1;
		d = strchr(d, '.');
		if (d != NULL)
			d++;
		if (d != NULL && strchr(d, '.') == NULL)
			break;	/* never a bare top-level domain */
	}
	return 0;
}

static int
inbound_rcpt(void *ctx, const char *addr)
{
	struct inbound *in = ctx;
	char sending[256];

	switch (inbound_rcpt_classify(in->key, in->cfg->in_bounce_domain, in->cfg->in_feedback_addresses,
	    addr, sending)) {
	case INBOUND_RCPT_VERP:
	case INBOUND_RCPT_FEEDBACK:
		return 0;
	case INBOUND_RCPT_FEEDBACK_CHECK:
		return domain_registered(in->st, sending) ? 0 : -1;
	case INBOUND_RCPT_REFUSE:
	default:
		return -1;
	}
}

/* --- start and stop ------------------------------------------------------------- */

int
inbound_make_dirs(const char *data_dir, char **err)
{
	static const char *sub[] = { "tmp", "new", "unmatched" };

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char *p = xasprintf("%s/inbound/%s", data_dir, sub[i]);
		int rc = fs_mkdirs(p, 0700);
		if (rc < 0) {
			*err = xasprintf("cannot create %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

int
inbound_start(uv_loop_t *loop, const struct config *cfg, struct store *st, SSL_CTX *tls,
    const struct verp_key *key, struct inbound **out, char **err)
{
	struct inbound *in;

	*out = NULL;
	if (cfg->in_listen == NULL || cfg->in_listen[0] == '\0')
		return 0;
	in = xcalloc(1, sizeof(*in));
	in->loop = loop;
	in->cfg = cfg;
	in->st = st;
	in->key = key;
	in->dir = xasprintf("%s/inbound", cfg->data_dir);
	id_new(in->start_id);
	/* Blocking, once, before the loop runs: like the spool's own setup. */
	if (inbound_make_dirs(cfg->data_dir, err) < 0)
		goto fail;
	in->ops.rcpt = inbound_rcpt;
	in->ops.store = inbound_store;
	in->ops.ctx = in;
	in->ops.max_message_size = cfg->in_max_message_size;
	if (smtp_server_start_inbound(loop, cfg, tls, &in->ops, &in->srv, err) < 0)
		goto fail;
	proc_queue(in, NULL);	/* leftovers of the last run */
	*out = in;
	return 0;
fail:
	free(in->dir);
	free(in);
	return -1;
}

static void
sessions_drained(void *arg)
{
	struct inbound *in = arg;

	in->sessions_gone = 1;
	drain_check(in);
}

void
inbound_drain(struct inbound *in, void (*done)(void *arg), void *arg)
{
	in->drained = done;
	in->drained_arg = arg;
	smtp_server_drain(in->srv, sessions_drained, in);
}

void
inbound_free(struct inbound *in)
{
	if (in == NULL)
		return;
	if (in->jobs)
		log_warn("inbound", "%u jobs still running at exit", in->jobs);
	smtp_server_free(in->srv);
	free(in->dir);
	free(in);
}
