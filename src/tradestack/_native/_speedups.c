/*
 * tradestack._native._speedups: the per-level work of the market-data hot path, in C.
 *
 * A function and a type, each with a pure-Python twin that gives identical results
 * (tests/unit/test_native.py checks them against each other and against Decimal):
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
 *   BookSide(descending)
 *       One side of an L2 book in an int64 array (the twin of order_book.PythonSide): apply(levels),
 *       load(levels), clear(), best(), best_price(), top(depth), len(). A level that is not a pair of
 *       exact ints within int64 makes `apply`/`load` return False without changing anything, and
 *       OrderBook moves that book to its Python sides, which take any int.
 *
 * No I/O, no global state.
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
 * the closing quote. On anything but a plain decimal whose units fit int64, returns NULL.
 * Checks for overflow at every step: the slow path, for strings of more than 18 digits. */
static const char *
parse_decimal_checked(const char *p, const char *end, int scale, int64_t *units)
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

static const uint64_t POWERS_OF_TEN[19] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL,
};

/* The same result as parse_decimal_checked. Fast path: when the integer digits plus the scale are at
 * most 18, the units are below 10**18 < INT64_MAX whatever the digits, so no step can overflow; any
 * other string (more digits, or anything unusual) is handed to the checked version. */
static inline const char *
parse_decimal(const char *p, const char *end, int scale, int64_t *units)
{
    const char *start = p;
    uint64_t value = 0;
    while (p < end && is_digit(*p)) {
        value = value * 10 + (unsigned)(*p - '0');
        p++;
    }
    int integer_digits = (int)(p - start);
    if (integer_digits == 0 || integer_digits + scale > 18) {
        return parse_decimal_checked(start, end, scale, units);
    }
    int fraction_taken = 0;
    if (p < end && *p == '.') {
        const char *fraction = ++p;
        while (p < end && is_digit(*p)) {
            unsigned digit = (unsigned)(*p - '0');
            if (fraction_taken < scale) {
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
    *units = (int64_t)(value * POWERS_OF_TEN[scale - fraction_taken]);
    return p + 1;
}

/* A new (price, size) tuple of ints, or NULL with an exception set. */
static PyObject *
new_level(int64_t price_units, int64_t size_units)
{
    PyObject *level = PyTuple_New(2);
    if (level == NULL) {
        return NULL;
    }
    PyObject *price = PyLong_FromLongLong(price_units);
    if (price == NULL) {
        Py_DECREF(level);
        return NULL;
    }
    PyTuple_SET_ITEM(level, 0, price);
    PyObject *size = PyLong_FromLongLong(size_units);
    if (size == NULL) {
        Py_DECREF(level);
        return NULL;
    }
    PyTuple_SET_ITEM(level, 1, size);
    /* two ints cannot be part of a reference cycle: spare the cyclic GC from visiting it (CPython
     * untracks such tuples itself, but only once a collection has looked at them) */
    PyObject_GC_UnTrack(level);
    return level;
}

typedef struct {
    int64_t price;
    int64_t size;
} Units;

typedef struct {
    Units *items;
    Py_ssize_t length;
    Py_ssize_t capacity;
    Units inline_items[128]; /* enough for a diff: no allocation */
} UnitsBuffer;

static int
units_push(UnitsBuffer *buffer, int64_t price, int64_t size)
{
    if (buffer->length == buffer->capacity) {
        Py_ssize_t capacity = buffer->capacity * 2;
        Units *items;
        if (buffer->items == buffer->inline_items) {
            items = PyMem_Malloc((size_t)capacity * sizeof(Units));
            if (items != NULL) {
                memcpy(items, buffer->inline_items, sizeof(buffer->inline_items));
            }
        }
        else {
            items = PyMem_Realloc(buffer->items, (size_t)capacity * sizeof(Units));
        }
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        buffer->items = items;
        buffer->capacity = capacity;
    }
    buffer->items[buffer->length].price = price;
    buffer->items[buffer->length].size = size;
    buffer->length++;
    return 0;
}

/* Reads the whole array into `buffer`. Returns 1, 0 when the input is not of the plain shape, or -1
 * with an exception set (memory). No Python object is made before the input is known to be plain. */
static int
read_units(const char *p, const char *end, int price_scale, int size_scale, UnitsBuffer *buffer)
{
    p = skip_whitespace(p, end);
    if (p >= end || *p != '[') {
        return 0;
    }
    p = skip_whitespace(p + 1, end);
    if (p < end && *p == ']') {
        return skip_whitespace(p + 1, end) == end;
    }
    for (;;) {
        int64_t price, size;
        if (p >= end || *p != '[') {
            return 0;
        }
        p = skip_whitespace(p + 1, end);
        if (p >= end || *p != '"') {
            return 0;
        }
        p = parse_decimal(p + 1, end, price_scale, &price);
        if (p == NULL) {
            return 0;
        }
        p = skip_whitespace(p, end);
        if (p >= end || *p != ',') {
            return 0;
        }
        p = skip_whitespace(p + 1, end);
        if (p >= end || *p != '"') {
            return 0;
        }
        p = parse_decimal(p + 1, end, size_scale, &size);
        if (p == NULL) {
            return 0;
        }
        p = skip_whitespace(p, end);
        if (p >= end || *p != ']') {
            return 0; /* a third element, or a broken level */
        }
        if (units_push(buffer, price, size) < 0) {
            return -1;
        }
        p = skip_whitespace(p + 1, end);
        if (p < end && *p == ',') {
            p = skip_whitespace(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            return skip_whitespace(p + 1, end) == end;
        }
        return 0;
    }
}

/* Returns a new list, Py_None (new reference) when the input is not of the plain shape, or NULL with
 * an exception set (memory). */
static PyObject *
parse_levels(const char *p, const char *end, int price_scale, int size_scale)
{
    UnitsBuffer buffer;
    buffer.items = buffer.inline_items;
    buffer.length = 0;
    buffer.capacity = (Py_ssize_t)(sizeof(buffer.inline_items) / sizeof(Units));
    PyObject *out = NULL;
    int read = read_units(p, end, price_scale, size_scale, &buffer);
    if (read == 0) {
        out = Py_NewRef(Py_None);
    }
    else if (read > 0 && (out = PyList_New(buffer.length)) != NULL) {
        for (Py_ssize_t index = 0; index < buffer.length; index++) {
            PyObject *level = new_level(buffer.items[index].price, buffer.items[index].size);
            if (level == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, index, level);
        }
    }
    if (buffer.items != buffer.inline_items) {
        PyMem_Free(buffer.items);
    }
    return out;
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
/* BookSide                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/* One side of an L2 book as an array of (key, size) sorted by key, best level last: the key is the
 * price for bids and minus the price for asks, so the best (highest bid, lowest ask) is always the
 * largest key. Updates land near the top of the book, so inserts and removals move few entries, and
 * a binary search runs over contiguous memory. Prices and sizes are exact ints (not bool or other
 * subclasses, whose comparisons could differ), with |price| <= INT64_MAX (INT64_MIN has no negation)
 * and sizes within int64; `apply` and `load` check every level first and change nothing when one does
 * not qualify (they return False and the caller moves the book to Python). */
typedef struct {
    int64_t key;  /* price, or minus the price for asks */
    int64_t size; /* never 0 */
} Entry;

typedef struct {
    PyObject_HEAD
    int descending; /* asks */
    Py_ssize_t length;
    Py_ssize_t capacity;
    Entry *entries; /* ascending keys */
} BookSide;

typedef struct {
    int64_t key;
    int64_t size;
    Py_ssize_t order; /* position in the input, for last-wins duplicates when loading */
} Level;

static int
reserve(BookSide *side, Py_ssize_t needed)
{
    if (needed <= side->capacity) {
        return 0;
    }
    Py_ssize_t capacity = side->capacity ? side->capacity : 64;
    while (capacity < needed) {
        capacity *= 2;
    }
    Entry *entries = PyMem_Realloc(side->entries, (size_t)capacity * sizeof(Entry));
    if (entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    side->entries = entries;
    side->capacity = capacity;
    return 0;
}

/* First index whose key is >= `key` (branch-free halving: the compiler makes the step a cmov). */
static inline Py_ssize_t
lower_bound(const Entry *entries, Py_ssize_t length, int64_t key)
{
    if (length == 0) {
        return 0;
    }
    const Entry *base = entries;
    while (length > 1) {
        Py_ssize_t half = length / 2;
        base = (base[half].key < key) ? base + half : base;
        length -= half;
    }
    return (base - entries) + (base->key < key);
}

/* Reads an exact int that fits int64; returns 1, 0 when it is not one or does not fit, -1 on error. */
static inline int
read_int64(PyObject *value, int64_t *out)
{
    if (!PyLong_CheckExact(value)) {
        return 0;
    }
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow) {
        return 0;
    }
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)number;
    return 1;
}

/* Converts `updates` (list or tuple of (price, size) pairs) into `levels`. Returns 1, 0 when some
 * level is not a pair of ints that fit (nothing is changed then), -1 on error. */
static int
read_levels(BookSide *side, PyObject *updates, Level **levels, Py_ssize_t *count)
{
    if (!PyList_Check(updates) && !PyTuple_Check(updates)) {
        PyErr_SetString(PyExc_TypeError, "levels must be a list or a tuple");
        return -1;
    }
    Py_ssize_t length = PySequence_Fast_GET_SIZE(updates);
    Level *out = PyMem_Malloc((size_t)(length ? length : 1) * sizeof(Level));
    if (out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(updates);
    for (Py_ssize_t index = 0; index < length; index++) {
        PyObject *pair = items[index];
        PyObject *price, *size;
        if (PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2) {
            price = PyTuple_GET_ITEM(pair, 0);
            size = PyTuple_GET_ITEM(pair, 1);
        }
        else if (PyList_CheckExact(pair) && PyList_GET_SIZE(pair) == 2) {
            price = PyList_GET_ITEM(pair, 0);
            size = PyList_GET_ITEM(pair, 1);
        }
        else {
            PyMem_Free(out);
            return 0;
        }
        int64_t price_value;
        int fits = read_int64(price, &price_value);
        if (fits == 1 && price_value == INT64_MIN) {
            fits = 0;
        }
        if (fits == 1) {
            fits = read_int64(size, &out[index].size);
        }
        if (fits != 1) {
            PyMem_Free(out);
            return fits;
        }
        out[index].key = side->descending ? -price_value : price_value;
        out[index].order = index;
    }
    *levels = out;
    *count = length;
    return 1;
}

/* Sets (size != 0) or removes (size == 0) one level. */
static inline int
set_level(BookSide *side, int64_t key, int64_t size)
{
    Py_ssize_t length = side->length;
    Py_ssize_t at = lower_bound(side->entries, length, key);
    int present = at < length && side->entries[at].key == key;
    if (size != 0) {
        if (present) {
            side->entries[at].size = size;
            return 0;
        }
        if (reserve(side, length + 1) < 0) {
            return -1;
        }
        Entry *entry = side->entries + at;
        memmove(entry + 1, entry, (size_t)(length - at) * sizeof(Entry));
        entry->key = key;
        entry->size = size;
        side->length = length + 1;
    }
    else if (present) {
        Entry *entry = side->entries + at;
        memmove(entry, entry + 1, (size_t)(length - at - 1) * sizeof(Entry));
        side->length = length - 1;
    }
    return 0;
}

static PyObject *
book_side_apply(BookSide *side, PyObject *updates)
{
    Level *levels;
    Py_ssize_t count;
    int read = read_levels(side, updates, &levels, &count);
    if (read <= 0) {
        if (read < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    for (Py_ssize_t index = 0; index < count; index++) {
        if (set_level(side, levels[index].key, levels[index].size) < 0) {
            PyMem_Free(levels); /* only memory can fail here: the side holds a prefix of the update */
            return NULL;
        }
    }
    PyMem_Free(levels);
    Py_RETURN_TRUE;
}

static int
compare_levels(const void *left, const void *right)
{
    const Level *a = left, *b = right;
    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    return a->order < b->order ? -1 : (a->order > b->order);
}

static PyObject *
book_side_load(BookSide *side, PyObject *snapshot)
{
    Level *levels;
    Py_ssize_t count;
    int read = read_levels(side, snapshot, &levels, &count);
    if (read <= 0) {
        if (read < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    /* {price: size for price, size in levels if size > 0}: the last positive size of a price wins */
    Py_ssize_t kept = 0;
    for (Py_ssize_t index = 0; index < count; index++) {
        if (levels[index].size > 0) {
            levels[kept++] = levels[index];
        }
    }
    qsort(levels, (size_t)kept, sizeof(Level), compare_levels);
    side->length = 0;
    if (reserve(side, kept) < 0) {
        PyMem_Free(levels);
        return NULL;
    }
    Py_ssize_t length = 0;
    for (Py_ssize_t index = 0; index < kept; index++) {
        if (index + 1 < kept && levels[index + 1].key == levels[index].key) {
            continue; /* a later duplicate follows */
        }
        side->entries[length].key = levels[index].key;
        side->entries[length].size = levels[index].size;
        length++;
    }
    side->length = length;
    PyMem_Free(levels);
    Py_RETURN_TRUE;
}

static PyObject *
book_side_clear(BookSide *side, PyObject *Py_UNUSED(ignored))
{
    side->length = 0;
    Py_RETURN_NONE;
}

static inline PyObject *
make_level(BookSide *side, Py_ssize_t at)
{
    int64_t key = side->entries[at].key;
    return new_level(side->descending ? -key : key, side->entries[at].size);
}

static PyObject *
book_side_best(BookSide *side, PyObject *Py_UNUSED(ignored))
{
    if (side->length == 0) {
        Py_RETURN_NONE;
    }
    return make_level(side, side->length - 1);
}

static PyObject *
book_side_best_price(BookSide *side, PyObject *Py_UNUSED(ignored))
{
    if (side->length == 0) {
        Py_RETURN_NONE;
    }
    int64_t key = side->entries[side->length - 1].key;
    return PyLong_FromLongLong(side->descending ? -key : key);
}

/* top(depth=None): best-first levels, like list(best_first)[:depth] */
static PyObject *
book_side_top(BookSide *side, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t length = side->length, count = length;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "top() takes at most 1 argument (%zd given)", nargs);
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        Py_ssize_t depth = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (depth == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
                return NULL;
            }
            PyErr_Clear(); /* beyond Py_ssize_t: the sign decides, as it would for a slice */
            PyObject *zero = PyLong_FromLong(0);
            if (zero == NULL) {
                return NULL;
            }
            int negative = PyObject_RichCompareBool(args[0], zero, Py_LT);
            Py_DECREF(zero);
            if (negative < 0) {
                return NULL;
            }
            depth = negative ? -length : length;
        }
        count = depth >= 0 ? (depth < length ? depth : length) : (length + depth > 0 ? length + depth : 0);
    }
    PyObject *out = PyList_New(count);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t index = 0; index < count; index++) {
        PyObject *level = make_level(side, length - 1 - index);
        if (level == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, index, level);
    }
    return out;
}

static Py_ssize_t
book_side_length(BookSide *side)
{
    return side->length;
}

static PyObject *
book_side_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"descending", NULL};
    int descending = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "p:BookSide", keywords, &descending)) {
        return NULL;
    }
    BookSide *side = (BookSide *)type->tp_alloc(type, 0);
    if (side == NULL) {
        return NULL;
    }
    side->descending = descending;
    side->length = side->capacity = 0;
    side->entries = NULL;
    return (PyObject *)side;
}

static void
book_side_dealloc(BookSide *side)
{
    PyTypeObject *type = Py_TYPE(side);
    PyMem_Free(side->entries);
    type->tp_free((PyObject *)side);
    Py_DECREF(type);
}

static PyObject *
book_side_get_descending(BookSide *side, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(side->descending);
}

static PyMethodDef book_side_methods[] = {
    {"apply", (PyCFunction)book_side_apply, METH_O,
     "apply(levels) -> bool\n\nSet (size != 0) or remove (size 0) each (price, size) in order. False, and\n"
     "nothing changed, when a level is not a pair of ints that fit (then use the Python side)."},
    {"load", (PyCFunction)book_side_load, METH_O,
     "load(levels) -> bool\n\nReplace the side with the levels of positive size (a repeated price: the\n"
     "last wins). False, and nothing changed, when a level is not a pair of ints that fit."},
    {"clear", (PyCFunction)book_side_clear, METH_NOARGS, "clear() -> None"},
    {"best", (PyCFunction)book_side_best, METH_NOARGS, "best() -> (price, size) | None"},
    {"best_price", (PyCFunction)book_side_best_price, METH_NOARGS, "best_price() -> int | None"},
    {"top", (PyCFunction)(void (*)(void))book_side_top, METH_FASTCALL,
     "top(depth=None) -> list[(price, size)]\n\nThe best `depth` levels, best first (all when None)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef book_side_getset[] = {
    {"descending", (getter)book_side_get_descending, NULL, "True for asks (lowest price is best).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot book_side_slots[] = {
    {Py_tp_new, book_side_new},
    {Py_tp_dealloc, book_side_dealloc},
    {Py_tp_methods, book_side_methods},
    {Py_tp_getset, book_side_getset},
    {Py_sq_length, book_side_length},
    {Py_tp_doc, "BookSide(descending)\n\nOne side of an L2 book: int64 prices and sizes, best level last."},
    {0, NULL},
};

static PyType_Spec book_side_spec = {
    .name = "tradestack._native._speedups.BookSide",
    .basicsize = sizeof(BookSide),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = book_side_slots,
};

static int
speedups_exec(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &book_side_spec, NULL);
    if (type == NULL) {
        return -1;
    }
    int failed = PyModule_AddObjectRef(module, "BookSide", type);
    Py_DECREF(type);
    return failed;
}

static PyMethodDef speedups_methods[] = {
    {"levels_from_json", (PyCFunction)(void (*)(void))levels_from_json, METH_FASTCALL,
     "levels_from_json(data, price_scale, size_scale) -> list[tuple[int, int]] | None\n\n"
     "A JSON array of [price, size] plain decimal strings -> exact integer units; None when the\n"
     "input is not of that plain shape or a value does not fit a signed 64-bit integer."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, speedups_exec},
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
