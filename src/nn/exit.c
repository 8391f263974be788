/*
 * exit.c - the original abyss exit pipeline (original-system.md 4.4):
 * step-2 samples -> 15 phase-decimated, delayed torque channels ->
 * standardisation fitted on the hole plus ref_15T.csv -> 400 rows of
 * padding -> 40 windows of 512 rows around the torque8 maximum -> the
 * PatchTSMixer as a heat-map generator -> mean position of the 40 peaks.
 * It reproduces the original's quirks (zero delays, padding rows whose
 * xpos2 is 0) rather than fixing them. Entry and transition (4.2, 4.3) are
 * the depth module's. Sits between the hole record and model.c.
 */
#include "abyss/nn.h"

#include <sys/stat.h>

#include "../common/file.h"

#include <pthread.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abyss/hole.h"

#define COL_LOCAL 15
#define COL_PRED  16
#define COL_XPOS1 17
#define TORQUE8	  7 /* phase 1, delay 2: the column whose maximum anchors */

void abyss_exit_tables_free(struct abyss_exit_tables *t)
{
	if (!t)
		return;
	free(t->organised);
	free(t->extended);
	t->organised = NULL;
	t->extended = NULL;
}

int abyss_exit_tables(const double *position, const int32_t *step,
		      const double *torque, size_t n, double local,
		      int predrilled, const double *ref, size_t ref_rows,
		      struct abyss_exit_tables *t, struct abyss_diag *diag)
{
	size_t *idx = NULL, N = 0, L, E, i, r, c;
	double head = 0.0, sign;
	double *org, *ext;

	if (!position || !step || !torque || !t || (!ref && ref_rows))
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_exit_tables: NULL argument");
	memset(t, 0, sizeof(*t));
	if (n > ABYSS_EXIT_MAX_SAMPLES || ref_rows > ABYSS_EXIT_MAX_REF_ROWS)
		return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
				      "%zu samples / %zu reference rows exceed "
				      "the limit",
				      n, ref_rows);
	/* raw_data_checker: positions are made positive by the sign of the
	 * sum of the first 200 */
	for (i = 0; i < n && i < 200; i++)
		head += position[i];
	sign = head < 0.0 ? -1.0 : 1.0;
	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx)
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	for (i = 0; i < n; i++)
		if (step[i] == 2)
			idx[N++] = i;
	if (N < 3) {
		free(idx);
		return abyss_diag_set(diag, ABYSS_ENOSTEP, 0, 0,
				      "the exit model needs step-2 samples; "
				      "found %zu",
				      N);
	}
	/* the inner join cuts the table to the length of phase 2 */
	L = (N - 2 + 2) / 3;
	E = L + 2 * ABYSS_EXIT_PAD;
	org = calloc(L * ABYSS_EXIT_COLS, sizeof(double));
	ext = calloc(E * ABYSS_EXIT_COLS, sizeof(double));
	if (!org || !ext) {
		free(idx);
		free(org);
		free(ext);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	}
	/* (a) channel c: phase p = c % 3, delay s = c / 3 rows; xpos: the
	 * centre delay 2 */
	for (r = 0; r < L; r++) {
		double *row = org + r * ABYSS_EXIT_COLS;

		for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++) {
			size_t p = c % 3, s = c / 3, k;

			if (r < s)
				continue;
			k = p + 3 * (r - s);
			if (k < N)
				row[c] = torque[idx[k]];
		}
		row[COL_LOCAL] = local;
		row[COL_PRED] = predrilled ? 1.0 : 0.0;
		for (c = 0; c < 3; c++) {
			size_t k;

			if (r < 2)
				continue;
			k = c + 3 * (r - 2);
			if (k < N)
				row[COL_XPOS1 + c] = sign * position[idx[k]];
		}
	}
	free(idx);
	/* (b) StandardScaler over the L hole rows + the reference rows,
	 * sklearn's two-pass form with its correction term */
	for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++) {
		double sum = 0.0, mu, sq = 0.0, corr = 0.0, var;
		size_t cnt = L + ref_rows;

		for (r = 0; r < L; r++)
			sum += org[r * ABYSS_EXIT_COLS + c];
		for (r = 0; r < ref_rows; r++)
			sum += ref[r * ABYSS_EXIT_TORQUE_CH + c];
		mu = sum / (double)cnt;
		for (r = 0; r < L + ref_rows; r++) {
			double d =
			    (r < L ? org[r * ABYSS_EXIT_COLS + c]
				   : ref[(r - L) * ABYSS_EXIT_TORQUE_CH + c]) -
			    mu;
			sq += d * d;
			corr += d;
		}
		var = (sq - corr * corr / (double)cnt) / (double)cnt;
		t->mean[c] = mu;
		/* _handle_zeros_in_scale: a constant column keeps scale 1 */
		t->scale[c] = var > 0.0 ? sqrt(var) : 1.0;
	}
	/* (b) + (c): scaled rows in the middle, padding around them */
	for (r = 0; r < L; r++) {
		const double *o = org + r * ABYSS_EXIT_COLS;
		double *x = ext + (ABYSS_EXIT_PAD + r) * ABYSS_EXIT_COLS;

		for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++)
			x[c] = (o[c] - t->mean[c]) / t->scale[c];
		x[COL_LOCAL] = local * 0.034 - 1.7;
		x[COL_PRED] = predrilled ? 0.69 : -1.45;
		for (c = 0; c < 3; c++)
			x[COL_XPOS1 + c] = o[COL_XPOS1 + c];
	}
	for (r = 0; r < E; r++) {
		double *x = ext + r * ABYSS_EXIT_COLS;
		const double *first = ext + ABYSS_EXIT_PAD * ABYSS_EXIT_COLS;

		if (r >= ABYSS_EXIT_PAD && r < ABYSS_EXIT_PAD + L)
			continue;
		for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++)
			x[c] = -1.0;
		for (c = ABYSS_EXIT_TORQUE_CH; c < ABYSS_EXIT_COLS; c++)
			x[c] = first[c];
	}
	t->n_step2 = N;
	t->rows = L;
	t->ext_rows = E;
	t->organised = org;
	t->extended = ext;
	return 0;
}

int abyss_exit_window_start(const struct abyss_exit_tables *t, size_t *M,
			    struct abyss_diag *diag)
{
	size_t r, best = 0;
	size_t last_end;

	if (!t || !t->extended || !M)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_exit_window_start: no tables");
	for (r = 1; r < t->ext_rows; r++)
		if (t->extended[r * ABYSS_EXIT_COLS + TORQUE8] >
		    t->extended[best * ABYSS_EXIT_COLS + TORQUE8])
			best = r;
	last_end = best + (ABYSS_EXIT_WIN_LEN - ABYSS_EXIT_WIN_BEFORE) +
		   ABYSS_EXIT_WIN_STEP * (ABYSS_EXIT_WINDOWS - 1);
	if (best < ABYSS_EXIT_WIN_BEFORE || last_end > t->ext_rows)
		return abyss_diag_set(diag, ABYSS_ERANGE, 0, 0,
				      "torque8 peaks at extended row %zu, so "
				      "the windows would leave the %zu-row "
				      "table",
				      best, t->ext_rows);
	*M = best;
	return 0;
}

void abyss_exit_window(const struct abyss_exit_tables *t, size_t M, int j,
		       float *x, double *xpos2)
{
	size_t start =
		   M - ABYSS_EXIT_WIN_BEFORE + (size_t)j * ABYSS_EXIT_WIN_STEP,
	       r, c;

	for (r = 0; r < ABYSS_EXIT_WIN_LEN; r++) {
		const double *row = t->extended + (start + r) * ABYSS_EXIT_COLS;

		if (x)
			for (c = 0; c < ABYSS_EXIT_MODEL_CH; c++)
				x[r * ABYSS_EXIT_MODEL_CH + c] = (float)row[c];
		if (xpos2)
			xpos2[r] = row[COL_XPOS1 + 1];
	}
}

size_t abyss_exit_readout(const float *y, float *heat)
{
	size_t t, c, best = 0;
	float hbest = -INFINITY;

	for (t = 0; t < ABYSS_EXIT_WIN_LEN; t++) {
		float v[ABYSS_EXIT_TORQUE_CH], h;

		for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++) {
			float q = y[t * ABYSS_EXIT_MODEL_CH + c];
			v[c] = q < -1.0f ? 0.0f : q;
		}
		/* numpy's pairwise sum of 15: 8 partials, then the tail */
		h = ((v[0] + v[1]) + (v[2] + v[3])) +
		    ((v[4] + v[5]) + (v[6] + v[7]));
		for (c = 8; c < ABYSS_EXIT_TORQUE_CH; c++)
			h += v[c];
		if (heat)
			heat[t] = h;
		if (h > hbest) {
			hbest = h;
			best = t;
		}
	}
	return best;
}

int abyss_exit_estimate(struct abyss_nn_model *m,
			const struct abyss_exit_tables *t, float *work,
			struct abyss_exit_result *res, struct abyss_diag *diag)
{
	const struct abyss_nn_config *c = abyss_nn_model_config(m);
	double xpos2[ABYSS_EXIT_WIN_LEN];
	size_t M = 0, B, per = (size_t)ABYSS_EXIT_WIN_LEN * ABYSS_EXIT_MODEL_CH;
	double sum = 0.0;
	int j, k, rc;

	if (!m || !t || !work || !res)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_exit_estimate: NULL argument");
	if (c->context_length != ABYSS_EXIT_WIN_LEN ||
	    c->prediction_length != ABYSS_EXIT_WIN_LEN ||
	    c->num_input_channels != ABYSS_EXIT_MODEL_CH)
		return abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				      "the exit pipeline needs a model of "
				      "512 x 17 -> 512 (this one: %d x %d -> "
				      "%d)",
				      c->context_length, c->num_input_channels,
				      c->prediction_length);
	rc = abyss_exit_window_start(t, &M, diag);
	if (rc)
		return rc;
	memset(res, 0, sizeof(*res));
	res->M = M;
	B = abyss_nn_max_batch(m);
	for (j = 0; j < ABYSS_EXIT_WINDOWS; j += (int)B) {
		int nb = ABYSS_EXIT_WINDOWS - j < (int)B
			     ? ABYSS_EXIT_WINDOWS - j
			     : (int)B;
		const float *y;

		for (k = 0; k < nb; k++)
			abyss_exit_window(t, M, j + k, work + (size_t)k * per,
					  NULL);
		rc = abyss_nn_forward(m, work, (size_t)nb, NULL);
		if (rc)
			return abyss_diag_set(diag, rc, 0, 0,
					      "model forward failed");
		y = abyss_nn_output(m, NULL);
		for (k = 0; k < nb; k++) {
			size_t ts =
			    abyss_exit_readout(y + (size_t)k * per, NULL);

			abyss_exit_window(t, M, j + k, NULL, xpos2);
			res->tstar[j + k] = ts;
			res->exit_j[j + k] = xpos2[ts];
		}
	}
	for (j = 0; j < ABYSS_EXIT_WINDOWS; j++)
		sum += res->exit_j[j];
	res->exit_mm = sum / ABYSS_EXIT_WINDOWS;
	return 0;
}

/* ---- ref_15T.csv --------------------------------------------------------- */

int abyss_exit_ref_parse(const char *buf, size_t len, size_t max_rows,
			 double **out, size_t *rows, struct abyss_diag *diag)
{
	const char *p, *end;
	size_t line = 1, nrows = 0, cap = 0, c;
	double *tab = NULL;
	char field[64];

	if (!buf || !out || !rows)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_exit_ref_parse: NULL argument");
	p = buf;
	end = buf + len;
	if (!max_rows)
		max_rows = ABYSS_EXIT_MAX_REF_ROWS;
	/* header: torque1,...,torque15 */
	for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++) {
		char want[16];
		size_t wl =
		    (size_t)snprintf(want, sizeof(want), "torque%zu", c + 1);

		if ((size_t)(end - p) < wl || memcmp(p, want, wl) != 0)
			return abyss_diag_set(diag, ABYSS_EPARSE, 1,
					      (size_t)(p - buf) + 1,
					      "reference CSV header: expected "
					      "'%s'",
					      want);
		p += wl;
		if (c + 1 < ABYSS_EXIT_TORQUE_CH) {
			if (p >= end || *p != ',')
				return abyss_diag_set(
				    diag, ABYSS_EPARSE, 1,
				    (size_t)(p - buf) + 1,
				    "reference CSV header: expected ','");
			p++;
		}
	}
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p != '\n')
		return abyss_diag_set(diag, ABYSS_EPARSE, 1,
				      (size_t)(p - buf) + 1,
				      "reference CSV header: 15 columns "
				      "expected");
	if (p < end)
		p++;
	while (p < end) {
		const char *ls = p;

		line++;
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
			p += *p == '\r' ? 2 : 1; /* blank line */
			continue;
		}
		if (nrows >= max_rows) {
			free(tab);
			return abyss_diag_set(diag, ABYSS_ETOOBIG, line, 1,
					      "more than %zu reference rows",
					      max_rows);
		}
		if (nrows == cap) {
			size_t nc = cap ? cap * 2 : 256;
			double *nt;

			if (nc > max_rows)
				nc = max_rows;
			nt = realloc(tab, nc * ABYSS_EXIT_TORQUE_CH *
					      sizeof(double));
			if (!nt) {
				free(tab);
				return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
						      "out of memory");
			}
			tab = nt;
			cap = nc;
		}
		for (c = 0; c < ABYSS_EXIT_TORQUE_CH; c++) {
			const char *fs = p;
			size_t fl;
			char *e;
			double v;

			while (p < end && *p != ',' && *p != '\n' && *p != '\r')
				p++;
			fl = (size_t)(p - fs);
			if (fl == 0 || fl >= sizeof(field)) {
				free(tab);
				return abyss_diag_set(
				    diag, ABYSS_EPARSE, line,
				    (size_t)(fs - ls) + 1,
				    "reference CSV: field %zu is empty or too "
				    "long",
				    c + 1);
			}
			memcpy(field, fs, fl);
			field[fl] = '\0';
			errno = 0;
			v = strtod(field, &e);
			if (*e != '\0' || errno == ERANGE || !isfinite(v)) {
				free(tab);
				return abyss_diag_set(
				    diag, ABYSS_EPARSE, line,
				    (size_t)(fs - ls) + 1,
				    "reference CSV: '%s' is not a finite "
				    "number",
				    field);
			}
			tab[nrows * ABYSS_EXIT_TORQUE_CH + c] = v;
			if (c + 1 < ABYSS_EXIT_TORQUE_CH) {
				if (p >= end || *p != ',') {
					free(tab);
					return abyss_diag_set(
					    diag, ABYSS_EPARSE, line,
					    (size_t)(p - ls) + 1,
					    "reference CSV: %zu fields, 15 "
					    "expected",
					    c + 1);
				}
				p++;
			}
		}
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p != '\n') {
			free(tab);
			return abyss_diag_set(diag, ABYSS_EPARSE, line,
					      (size_t)(p - ls) + 1,
					      "reference CSV: more than 15 "
					      "fields");
		}
		if (p < end)
			p++;
		nrows++;
	}
	*out = tab;
	*rows = nrows;
	return 0;
}

/* ---- the depth estimator's model bundle -----------------------------------
 */

struct abyss_ml_model {
	struct abyss_nn_model *nn;
	double *ref;
	size_t ref_rows;
	float *work; /* max_batch windows of model input */
	pthread_mutex_t lock;
};

void abyss_ml_model_free(struct abyss_ml_model *mm)
{
	if (!mm)
		return;
	pthread_mutex_destroy(&mm->lock);
	abyss_nn_model_free(mm->nn);
	free(mm->ref);
	free(mm->work);
	free(mm);
}

struct abyss_nn_model *abyss_ml_model_nn(const struct abyss_ml_model *mm)
{
	return mm ? mm->nn : NULL;
}

int abyss_ml_model_load(const char *dir, const char *ref_csv, size_t batch,
			struct abyss_ml_model **out, struct abyss_diag *diag)
{
	struct abyss_nn_options o;
	struct abyss_ml_model *mm;
	const struct abyss_nn_config *c;
	char path[4096], *text = NULL;
	size_t len = 0;
	int rc;

	if (!dir || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_ml_model_load: NULL argument");
	mm = calloc(1, sizeof(*mm));
	if (!mm)
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "out of memory");
	if (pthread_mutex_init(&mm->lock, NULL) != 0) {
		free(mm);
		return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
				      "cannot create a lock");
	}
	o.max_batch = batch ? batch : 8;
	o.training = 0;
	rc = abyss_nn_model_load(dir, &o, &mm->nn, diag);
	if (rc)
		goto fail;
	c = abyss_nn_model_config(mm->nn);
	if (c->context_length != ABYSS_EXIT_WIN_LEN ||
	    c->prediction_length != ABYSS_EXIT_WIN_LEN ||
	    c->num_input_channels != ABYSS_EXIT_MODEL_CH) {
		rc = abyss_diag_set(diag, ABYSS_ECONFIG, 0, 0,
				    "%s: the exit pipeline needs a 512 x 17 "
				    "-> 512 model",
				    dir);
		goto fail;
	}
	if (!ref_csv) {
		struct stat st;

		if ((size_t)snprintf(path, sizeof(path), "%s/ref_15T.csv",
				     dir) >= sizeof(path)) {
			rc = abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
					    "path too long");
			goto fail;
		}
		/* No reference statistics beside the model: the original's
		 * ref_15T.csv is not public. The scaler then fits on the
		 * hole's own rows alone (docs/nn.md, "without ref_15T.csv"). */
		ref_csv = stat(path, &st) == 0 ? path : NULL;
	}
	if (ref_csv) {
		rc = common__read_file(ref_csv, (size_t)256 << 20, &text, &len,
				       diag);
		if (rc)
			goto fail;
		rc = abyss_exit_ref_parse(text, len, 0, &mm->ref, &mm->ref_rows,
					  diag);
		free(text);
		if (rc) {
			abyss_diag_set_file(diag, ref_csv);
			goto fail;
		}
	}
	mm->work = malloc(o.max_batch * ABYSS_EXIT_WIN_LEN *
			  ABYSS_EXIT_MODEL_CH * sizeof(float));
	if (!mm->work) {
		rc = abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0, "out of memory");
		goto fail;
	}
	*out = mm;
	return 0;
fail:
	abyss_ml_model_free(mm);
	return rc;
}

int abyss_ml_exit(const struct abyss_ml_model *cmm, const struct abyss_hole *h,
		  struct abyss_exit_result *res, struct abyss_diag *diag)
{
	/* the bundle is logically const (its weights never change); the
	 * activation and window buffers it owns are used under the lock */
	struct abyss_ml_model *mm = (struct abyss_ml_model *)cmm;
	struct abyss_exit_tables t;
	int rc;

	if (!mm || !h || !res)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "abyss_ml_exit: NULL argument");
	if (!h->position_mm || !h->step || !h->torque_a)
		return abyss_diag_set(diag, ABYSS_ENODATA, 0, 0,
				      "the hole lacks position, step or "
				      "torque samples");
	if (h->float32_origin) {
		/* a Setitec file: the original read it as float32
		 * (auto_data), so every value is that float widened */
		size_t i;
		double *pos, *tq;

		if (h->n > ABYSS_EXIT_MAX_SAMPLES)
			return abyss_diag_set(diag, ABYSS_ETOOBIG, 0, 0,
					      "%zu samples exceed the limit",
					      h->n);
		pos = malloc((h->n ? h->n : 1) * 2 * sizeof(double));
		if (!pos)
			return abyss_diag_set(diag, ABYSS_ENOMEM, 0, 0,
					      "out of memory");
		tq = pos + h->n;
		for (i = 0; i < h->n; i++) {
			pos[i] = (double)(float)h->position_mm[i];
			tq[i] = (double)(float)h->torque_a[i];
		}
		rc = abyss_exit_tables(pos, h->step, tq, h->n, (double)h->local,
				       h->predrilled, mm->ref, mm->ref_rows, &t,
				       diag);
		free(pos);
	} else {
		rc = abyss_exit_tables(h->position_mm, h->step, h->torque_a,
				       h->n, (double)h->local, h->predrilled,
				       mm->ref, mm->ref_rows, &t, diag);
	}
	if (rc)
		return rc;
	pthread_mutex_lock(&mm->lock);
	rc = abyss_exit_estimate(mm->nn, &t, mm->work, res, diag);
	pthread_mutex_unlock(&mm->lock);
	abyss_exit_tables_free(&t);
	return rc;
}
