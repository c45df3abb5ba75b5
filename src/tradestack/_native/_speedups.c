/*
 * tradestack._native._speedups: the per-level work of the market-data hot path, in C.
 *
 * Two functions, each with a pure-Python twin that gives identical results (tests/unit/test_native.py
 * checks them against each other and against Decimal):
 *
 *   levels_from_json(data, price_scale, size_scale) -> list[tuple[int, int]] | None
 *       A JSON array of [price, size] decimal strings, as the venue sent it (msgspec.Raw), to exact
 *       integers in units of 10**-scale. Only the plain shape is taken: ASCII digits with at most one
 *       point, digits on both sides of it, no escapes, no exponent, no sign, nothing but JSON
 *       whitespace between tokens, exactly two strings per level. Decimals beyond the scale are
 *       accepted only if they are zeros. Every value must fit a signed 64-bit integer (at most
 *       9223372036854775807 units). Anything else returns None, and the caller takes its strict
 *       Python path, which either converts exactly or reports the input as malformed: this function
 *       never guesses, truncates or rounds.
 *
 *   apply_side(levels, prices, updates, descending) -> None
 *       One side of an L2 book: `levels` a dict price -> size, `prices` the same prices sorted
 *       ascending (bids) or descending (asks), so that the best price is always the last item and
 *       changes near the top of the book move few pointers. For each (price, size) of `updates`: a
 *       true size sets the level (inserting the price in order when new), a false size removes it if
 *       present. The same algorithm, Python objects and comparisons as order_book._apply_side (dict +
 *       bisect.insort / bisect_left, with key=operator.neg when descending), so any int works.
 *
 * Neither function does I/O or keeps state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------- */
/* levels_from_json                                                                               */
/* ---------------------------------------------------------------------------------------------- */

#define MAX_UNITS ((uint64_t)INT64_MAX)

static inline const char *
skip_whitespace(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    return p;
}

static inline int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* `p` is just past an opening quote. On success stores the units, returns the position just past
 * the closing quote. On anything but a plain decimal that fits, returns NULL. */
static inline const char *
parse_decimal(const char *p, const char *end, int scale, int64_t *units)
{
    uint64_t value = 0;
    int fraction_taken = 0;
    const char *start = p;

    while (p < end && is_digit(*p)) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (MAX_UNITS - digit) / 10) {
            return NULL;
        }
        value = value * 10 + digit;
        p++;
    }
    if (p == start) {
        return NULL; /* no integer digits: "", ".5", "-1", "+1", "\u0031"... */
    }
    if (p < end && *p == '.') {
        const char *fraction = ++p;
        while (p < end && is_digit(*p)) {
            unsigned digit = (unsigned)(*p - '0');
            if (fraction_taken < scale) {
                if (value > (MAX_UNITS - digit) / 10) {
                    return NULL;
                }
                value = value * 10 + digit;
                fraction_taken++;
            }
            else if (digit != 0) {
                return NULL; /* a significant decimal beyond the scale: not representable */
            }
            p++;
        }
        if (p == fraction) {
            return NULL; /* "5." */
        }
    }
    if (p >= end || *p != '"') {
        return NULL; /* exponent, second point, escape, other character, or the end */
    }
    for (; fraction_taken < scale; fraction_taken++) {
        if (value > MAX_UNITS / 10) {
            return NULL;
        }
        value *= 10;
    }
    *units = (int64_t)value;
    return p + 1;
}

/* Appends (price, size) to `out`; returns 0, or -1 with an exception set. */
static int
append_level(PyObject *out, int64_t price_units, int64_t size_units)
{
    PyObject *level = PyTuple_New(2);
    if (level == NULL) {
        return -1;
    }
    PyObject *price = PyLong_FromLongLong(price_units);
    if (price == NULL) {
        Py_DECREF(level);
        return -1;
    }
    PyTuple_SET_ITEM(level, 0, price);
    PyObject *size = PyLong_FromLongLong(size_units);
    if (size == NULL) {
        Py_DECREF(level);
        return -1;
    }
    PyTuple_SET_ITEM(level, 1, size);
    int failed = PyList_Append(out, level);
    Py_DECREF(level);
    return failed;
}

/* Returns a new list, Py_None (new reference) when the input is not of the plain shape, or NULL with
 * an exception set (memory). */
static PyObject *
parse_levels(const char *p, const char *end, int price_scale, int size_scale)
{
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    p = skip_whitespace(p, end);
    if (p >= end || *p != '[') {
        goto not_plain;
    }
    p = skip_whitespace(p + 1, end);
    if (p < end && *p == ']') {
        p++;
        goto done;
    }
    for (;;) {
        int64_t price, size;
        if (p >= end || *p != '[') {
            goto not_plain;
        }
        p = skip_whitespace(p + 1, end);
        if (p >= end || *p != '"') {
            goto not_plain;
        }
        p = parse_decimal(p + 1, end, price_scale, &price);
        if (p == NULL) {
            goto not_plain;
        }
        p = skip_whitespace(p, end);
        if (p >= end || *p != ',') {
            goto not_plain;
        }
        p = skip_whitespace(p + 1, end);
        if (p >= end || *p != '"') {
            goto not_plain;
        }
        p = parse_decimal(p + 1, end, size_scale, &size);
        if (p == NULL) {
            goto not_plain;
        }
        p = skip_whitespace(p, end);
        if (p >= end || *p != ']') {
            goto not_plain; /* a third element, or a broken level */
        }
        if (append_level(out, price, size) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        p = skip_whitespace(p + 1, end);
        if (p < end && *p == ',') {
            p = skip_whitespace(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            p++;
            break;
        }
        goto not_plain;
    }
done:
    p = skip_whitespace(p, end);
    if (p != end) {
        goto not_plain;
    }
    return out;
not_plain:
    Py_DECREF(out);
    Py_RETURN_NONE;
}

static int
scale_argument(PyObject *value, const char *name, int *scale)
{
    long number = PyLong_AsLong(value);
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (number < 0 || number > 1000) {
        PyErr_Format(PyExc_ValueError, "%s must be between 0 and 1000, not %ld", name, number);
        return -1;
    }
    *scale = (int)number;
    return 0;
}

static PyObject *
levels_from_json(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    int price_scale, size_scale;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "levels_from_json() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (scale_argument(args[1], "price_scale", &price_scale) < 0 ||
        scale_argument(args[2], "size_scale", &size_scale) < 0) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const char *start = (const char *)view.buf;
    PyObject *result = parse_levels(start, start + view.len, price_scale, size_scale);
    PyBuffer_Release(&view);
    return result;
}

/* ---------------------------------------------------------------------------------------------- */
/* apply_side                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

/* bisect.insort's position (right) or bisect.bisect_left (left) over a list, with the comparisons they
 * make; when descending, those they make with key=operator.neg (-x < -a is a < x). -1 on error. */
static Py_ssize_t
bisect(PyObject *list, PyObject *item, int right, int descending)
{
    Py_ssize_t low = 0, high = PyList_GET_SIZE(list);
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        if (middle >= PyList_GET_SIZE(list)) {
            PyErr_SetString(PyExc_RuntimeError, "price list changed size during an update");
            return -1;
        }
        PyObject *probe = PyList_GET_ITEM(list, middle);
        Py_INCREF(probe);
        /* insort (right): x < a[mid] -> go left;  bisect_left: a[mid] < x -> go right
         * (descending: the operands swap) */
        int less = (right != descending) ? PyObject_RichCompareBool(item, probe, Py_LT)
                                         : PyObject_RichCompareBool(probe, item, Py_LT);
        Py_DECREF(probe);
        if (less < 0) {
            return -1;
        }
        if (right ? less : !less) {
            high = middle;
        }
        else {
            low = middle + 1;
        }
    }
    return low;
}

/* Unpacks one update into borrowed (price, size) references held alive by *holder. */
static int
unpack_level(PyObject *update, PyObject **holder, PyObject **price, PyObject **size)
{
    PyObject *pair;
    if (PyTuple_CheckExact(update)) {
        Py_INCREF(update);
        pair = update;
    }
    else {
        pair = PySequence_Tuple(update);
        if (pair == NULL) {
            return -1;
        }
    }
    if (PyTuple_GET_SIZE(pair) != 2) {
        PyErr_Format(PyExc_ValueError, "a level is (price, size), got %zd values",
                     PyTuple_GET_SIZE(pair));
        Py_DECREF(pair);
        return -1;
    }
    *holder = pair;
    *price = PyTuple_GET_ITEM(pair, 0);
    *size = PyTuple_GET_ITEM(pair, 1);
    return 0;
}

static int
apply_one(PyObject *levels, PyObject *prices, PyObject *price, PyObject *size, int descending)
{
    int nonzero = PyObject_IsTrue(size);
    if (nonzero < 0) {
        return -1;
    }
    int present = PyDict_Contains(levels, price);
    if (present < 0) {
        return -1;
    }
    if (nonzero) {
        if (!present) {
            Py_ssize_t at = bisect(prices, price, 1, descending);
            if (at < 0 || PyList_Insert(prices, at, price) < 0) {
                return -1;
            }
        }
        return PyDict_SetItem(levels, price, size);
    }
    if (present) {
        if (PyDict_DelItem(levels, price) < 0) {
            return -1;
        }
        Py_ssize_t at = bisect(prices, price, 0, descending);
        if (at < 0) {
            return -1;
        }
        if (at >= PyList_GET_SIZE(prices)) {
            PyErr_SetString(PyExc_IndexError, "list assignment index out of range");
            return -1;
        }
        return PyList_SetSlice(prices, at, at + 1, NULL);
    }
    return 0;
}

static PyObject *
apply_side(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "apply_side() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *levels = args[0], *prices = args[1];
    int descending = PyObject_IsTrue(args[3]);
    if (descending < 0) {
        return NULL;
    }
    if (!PyDict_Check(levels)) {
        PyErr_SetString(PyExc_TypeError, "apply_side(): levels must be a dict");
        return NULL;
    }
    if (!PyList_Check(prices)) {
        PyErr_SetString(PyExc_TypeError, "apply_side(): prices must be a list");
        return NULL;
    }
    PyObject *updates = PySequence_Fast(args[2], "apply_side(): updates must be iterable");
    if (updates == NULL) {
        return NULL;
    }
    /* the sequence may be a list the loop could shrink through a comparison: re-read the size */
    for (Py_ssize_t index = 0; index < PySequence_Fast_GET_SIZE(updates); index++) {
        PyObject *update = PySequence_Fast_GET_ITEM(updates, index);
        PyObject *holder, *price, *size;
        Py_INCREF(update);
        int failed = unpack_level(update, &holder, &price, &size);
        Py_DECREF(update);
        if (failed) {
            Py_DECREF(updates);
            return NULL;
        }
        failed = apply_one(levels, prices, price, size, descending);
        Py_DECREF(holder);
        if (failed) {
            Py_DECREF(updates);
            return NULL;
        }
    }
    Py_DECREF(updates);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------- */

static PyMethodDef speedups_methods[] = {
    {"levels_from_json", (PyCFunction)(void (*)(void))levels_from_json, METH_FASTCALL,
     "levels_from_json(data, price_scale, size_scale) -> list[tuple[int, int]] | None\n\n"
     "A JSON array of [price, size] plain decimal strings -> exact integer units; None when the\n"
     "input is not of that plain shape or a value does not fit a signed 64-bit integer."},
    {"apply_side", (PyCFunction)(void (*)(void))apply_side, METH_FASTCALL,
     "apply_side(levels, prices, updates, descending) -> None\n\n"
     "Apply (price, size) updates to one book side: a dict price -> size and its price list, sorted\n"
     "ascending, or descending when `descending` is true."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tradestack._native._speedups",
    .m_doc = "C versions of the per-level work of the market-data hot path.",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
