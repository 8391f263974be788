/*
 * grip.c - grip-length codes and fastener grip lengths, as the original's
 * gripcodecalc.py / uos_depth_est_core.py computed them (§4.9): codes of
 * 1/16 inch with a 0.127 mm tolerance, and Python's float floor division and
 * modulo. Pure arithmetic on doubles; it knows nothing of holes or files.
 */
#include <limits.h>
#include <math.h>

#include "abyss/compat.h"

double abyss_grip_gul(int code)
{
	/* the original builds G = 1.5875 * i, then G + 0.127, in double */
	return ABYSS_GRIP_UNIT_MM * (double)code + ABYSS_GRIP_TOL_MM;
}

double abyss_grip_gll(int code)
{
	return code <= 1 ? 0.0 : abyss_grip_gul(code - 1);
}

int abyss_grip_code(double depth_mm)
{
	int code;

	/* the original sums code * [GLL < d <= GUL] over all codes; the
	 * intervals do not overlap, so at most one term is non-zero */
	for (code = 1; code <= ABYSS_GRIP_CODES; code++)
		if (depth_mm > abyss_grip_gll(code) &&
		    depth_mm <= abyss_grip_gul(code))
			return code;
	return 0;
}

/* CPython's float_divmod: floor division and a modulo with the sign of the
 * divisor, both derived from fmod so that q * u + r reproduces d. */
static void py_divmod(double vx, double wx, double *floordiv, double *mod)
{
	double div, m;

	m = fmod(vx, wx);
	div = (vx - m) / wx;
	if (m != 0.0) {
		if ((wx < 0) != (m < 0)) {
			m += wx;
			div -= 1.0;
		}
	} else {
		m = copysign(0.0, wx);
	}
	if (div != 0.0) {
		*floordiv = floor(div);
		if (div - *floordiv > 0.5)
			*floordiv += 1.0;
	} else {
		*floordiv = copysign(0.0, vx / wx);
	}
	*mod = m;
}

int abyss_grip_quotient_remainder(double depth_mm, double unit_mm,
				  long *quotient, double *remainder)
{
	double q, r;

	if (!quotient || !remainder)
		return ABYSS_EINVAL;
	if (unit_mm == 0.0)
		return ABYSS_EINVAL; /* ZeroDivisionError */
	if (!isfinite(depth_mm) || !isfinite(unit_mm))
		return ABYSS_ERANGE; /* int() of inf or NaN fails */
	py_divmod(depth_mm, unit_mm, &q, &r);
	if (!(q >= (double)LONG_MIN && q < (double)LONG_MAX))
		return ABYSS_ERANGE;
	*quotient = (long)q;
	*remainder = r;
	return ABYSS_OK;
}

int abyss_grip_fastener_lengths(double depth_mm, double unit_mm,
				double lower_mm, double upper_mm, long d[3])
{
	long q;
	double r;
	int rc;

	if (!d)
		return ABYSS_EINVAL;
	rc = abyss_grip_quotient_remainder(depth_mm, unit_mm, &q, &r);
	if (rc)
		return rc;
	if (q > LONG_MAX - 2)
		return ABYSS_ERANGE;
	d[0] = q + 1;
	d[1] = q + (r > upper_mm ? 1 : 0);
	if (r < lower_mm)
		d[2] = q;
	else if (r > upper_mm)
		d[2] = q + 2;
	else
		d[2] = q + 1;
	return ABYSS_OK;
}
