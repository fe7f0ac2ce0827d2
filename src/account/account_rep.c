/* account_rep: rolling bounce and complaint rates per account
 * (account_rep.h). */
#include "account/account_rep.h"

#include <stdio.h>
#include <string.h>

static uint64_t
slot_ms(const struct account_rep_policy *p)
{
	uint64_t s = p->window_ms / ACCOUNT_REP_SLOTS;

	return s > 0 ? s : 1;
}

void
account_rep_add(struct account_rep *r, const struct account_rep_policy *p,
    enum account_rep_kind kind, uint64_t now)
{
	/* epoch 0 marks an empty slot: count epochs from 1 */
	uint64_t epoch = now / slot_ms(p) + 1;
	struct account_rep_slot *s = &r->slot[epoch % ACCOUNT_REP_SLOTS];

	if (s->epoch != epoch) {
		memset(s, 0, sizeof(*s));
		s->epoch = epoch;
	}
	switch (kind) {
	case ACCOUNT_REP_DELIVERED:
		s->delivered++;
		break;
	case ACCOUNT_REP_BOUNCED:
		s->bounced++;
		break;
	case ACCOUNT_REP_COMPLAINED:
		s->complained++;
		break;
	}
}

void
account_rep_totals(const struct account_rep *r, const struct account_rep_policy *p, uint64_t now,
    struct account_rep_totals *out)
{
	uint64_t epoch = now / slot_ms(p) + 1;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < ACCOUNT_REP_SLOTS; i++) {
		const struct account_rep_slot *s = &r->slot[i];
		if (s->epoch == 0 || s->epoch > epoch || s->epoch + ACCOUNT_REP_SLOTS <= epoch)
			continue;
		out->delivered += s->delivered;
		out->bounced += s->bounced;
		out->complained += s->complained;
	}
	out->sent = out->delivered + out->bounced;
	if (out->sent > 0) {
		out->bounce_rate = (double)out->bounced / (double)out->sent;
		out->complaint_rate = (double)out->complained / (double)out->sent;
	}
}

void
account_rep_judge(const struct account_rep_totals *t, const struct account_rep_policy *p,
    struct account_rep_verdict *out)
{
	memset(out, 0, sizeof(*out));
	out->level = ACCOUNT_REP_OK;
	if (t->sent == 0 || t->sent < p->min_sample)
		return;
	/* "over": strictly above, so a 10% threshold tolerates exactly 10% */
	if (p->bounce_pause > 0 && t->bounce_rate > p->bounce_pause) {
		*out = (struct account_rep_verdict){ ACCOUNT_REP_PAUSE, "bounce", t->bounce_rate,
		    p->bounce_pause };
	} else if (p->complaint_pause > 0 && t->complaint_rate > p->complaint_pause) {
		*out = (struct account_rep_verdict){ ACCOUNT_REP_PAUSE, "complaint",
		    t->complaint_rate, p->complaint_pause };
	} else if (p->bounce_review > 0 && t->bounce_rate > p->bounce_review) {
		*out = (struct account_rep_verdict){ ACCOUNT_REP_REVIEW, "bounce", t->bounce_rate,
		    p->bounce_review };
	} else if (p->complaint_review > 0 && t->complaint_rate > p->complaint_review) {
		*out = (struct account_rep_verdict){ ACCOUNT_REP_REVIEW, "complaint",
		    t->complaint_rate, p->complaint_review };
	}
}

void
account_rep_reason(const struct account_rep_verdict *v, char *out, size_t len)
{
	if (v->level == ACCOUNT_REP_OK) {
		snprintf(out, len, "rates below the thresholds");
		return;
	}
	/* %g drops trailing zeros: "10%", "0.5%" */
	snprintf(out, len, "%s rate %.1f%% > %g%%", v->metric, v->rate * 100, v->threshold * 100);
}

void
account_rep_reset(struct account_rep *r)
{
	memset(r, 0, sizeof(*r));
}
