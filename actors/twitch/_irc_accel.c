/*
 * Compiled twin of `actors.twitch.irc._parse_irc_line_py` (the reference implementation).
 *
 * Chat lines arrive by the thousand per second per channel, and splitting them is the one
 * step every line takes. This module does exactly what the Python parser does, in one pass
 * over the string: it builds the same `IrcMessage` (the same dict, list and str values) and
 * hands every line it would reject, and every `str` subclass, to the Python parser, so the
 * errors raised and their messages are the reference's own. It is optional: when it is not
 * built, `irc.py` uses the Python parser, and the test suite checks both agree on the corpus
 * and on generated lines.
 *
 * Only public, stable CPython API is used (PyUnicode_READ and friends on the canonical
 * representation, PyDict/PyList setters), and every reference is accounted for on the error
 * paths: a MemoryError propagates as such.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    PyObject *message_type;   /* IrcMessage */
    PyObject *slots[4];       /* its member descriptors: tags, prefix, command, params */
    PyObject *fallback;       /* the Python parser */
} accel_state;

static accel_state state = {NULL, {NULL, NULL, NULL, NULL}, NULL};

/* Undo IRCv3 tag-value escaping of text[start:end], which holds at least one backslash. */
static PyObject *
unescape(int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t n = end - start, out = 0;
    Py_UCS4 *buffer = PyMem_New(Py_UCS4, n > 0 ? n : 1);
    if (buffer == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch != '\\') {
            buffer[out++] = ch;
            continue;
        }
        if (++i == end) {
            break; /* a lone trailing backslash disappears */
        }
        ch = PyUnicode_READ(kind, data, i);
        switch (ch) {
        case 's': buffer[out++] = ' '; break;
        case ':': buffer[out++] = ';'; break;
        case 'r': buffer[out++] = '\r'; break;
        case 'n': buffer[out++] = '\n'; break;
        default: buffer[out++] = ch; /* `\\` and any other escaped character stand for themselves */
        }
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buffer, out);
    PyMem_Free(buffer);
    return result;
}

/* Twitch sends the same tags in the same order on every line, and many values repeat (empty,
   room-id, badges, color, user-type): the string made for the n-th tag's key, and for its
   value, is kept and handed out again while the next line holds the same characters there.
   That saves the allocation and, for keys, the hashing (a str caches its hash). */
#define SLICE_CACHE_SIZE 64
static PyObject *key_cache[SLICE_CACHE_SIZE];
static PyObject *value_cache[SLICE_CACHE_SIZE];

static int
same_chars(PyObject *known, int kind, const void *data, Py_ssize_t start, Py_ssize_t n)
{
    int known_kind = PyUnicode_KIND(known);
    const void *known_data = PyUnicode_DATA(known);
    if (known_kind == kind) {
        return memcmp(known_data, (const char *)data + start * kind, (size_t)(n * kind)) == 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_READ(known_kind, known_data, i) != PyUnicode_READ(kind, data, start + i)) {
            return 0;
        }
    }
    return 1;
}

/* text[start:end], reusing *slot when it holds those very characters. */
static PyObject *
cached_slice(PyObject **slot, PyObject *text, int kind, const void *data, Py_ssize_t start,
             Py_ssize_t end)
{
    PyObject *known = *slot;
    if (known != NULL && PyUnicode_GET_LENGTH(known) == end - start
        && same_chars(known, kind, data, start, end - start)) {
        return Py_NewRef(known);
    }
    PyObject *piece = PyUnicode_Substring(text, start, end);
    if (piece != NULL) {
        Py_XSETREF(*slot, Py_NewRef(piece));
    }
    return piece;
}

/* Parse text[start:end] (the tags without their `@`) into `tags`. 0 on success, -1 on error. */
static int
parse_tags(PyObject *tags, PyObject *text, int kind, const void *data, Py_ssize_t start,
           Py_ssize_t end)
{
    Py_ssize_t item = start, position = 0;
    for (; item <= end; position++) {
        Py_ssize_t item_end = item, equals = -1, backslash = 0;
        while (item_end < end) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, item_end);
            if (ch == ';') {
                break;
            }
            if (ch == '=' && equals < 0) {
                equals = item_end;
            }
            else if (ch == '\\' && equals >= 0) {
                backslash = 1;
            }
            item_end++;
        }
        Py_ssize_t key_end = equals < 0 ? item_end : equals;
        if (key_end > item) { /* an item with an empty key names nothing: it is dropped */
            PyObject *key = position < SLICE_CACHE_SIZE
                                ? cached_slice(&key_cache[position], text, kind, data, item,
                                               key_end)
                                : PyUnicode_Substring(text, item, key_end);
            if (key == NULL) {
                return -1;
            }
            PyObject *value;
            if (equals < 0) {
                value = PyUnicode_New(0, 0);
            }
            else if (backslash) {
                value = unescape(kind, data, equals + 1, item_end);
            }
            else if (position < SLICE_CACHE_SIZE) {
                value = cached_slice(&value_cache[position], text, kind, data, equals + 1,
                                     item_end);
            }
            else {
                value = PyUnicode_Substring(text, equals + 1, item_end);
            }
            if (value == NULL) {
                Py_DECREF(key);
                return -1;
            }
            int failed = PyDict_SetItem(tags, key, value);
            Py_DECREF(key);
            Py_DECREF(value);
            if (failed) {
                return -1;
            }
        }
        item = item_end + 1;
    }
    return 0;
}

static Py_ssize_t
skip_spaces(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    while (i < end && PyUnicode_READ(kind, data, i) == ' ') {
        i++;
    }
    return i;
}

static Py_ssize_t
find_space(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    while (i < end && PyUnicode_READ(kind, data, i) != ' ') {
        i++;
    }
    return i;
}

/* Append text[start:end] to `list`. 0 on success, -1 on error. */
static int
append_slice(PyObject *list, PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *piece = PyUnicode_Substring(text, start, end);
    if (piece == NULL) {
        return -1;
    }
    int failed = PyList_Append(list, piece);
    Py_DECREF(piece);
    return failed;
}

static PyObject *
build_message(PyObject *tags, PyObject *prefix, PyObject *command, PyObject *params)
{
    PyTypeObject *type = (PyTypeObject *)state.message_type;
    PyObject *msg = type->tp_alloc(type, 0);
    if (msg == NULL) {
        return NULL;
    }
    PyObject *values[4] = {tags, prefix, command, params};
    for (int i = 0; i < 4; i++) {
        PyObject *descr = state.slots[i];
        if (Py_TYPE(descr)->tp_descr_set(descr, msg, values[i]) < 0) {
            Py_DECREF(msg);
            return NULL;
        }
    }
    return msg;
}

static PyObject *
fallback(PyObject *line)
{
    return PyObject_CallOneArg(state.fallback, line);
}

static PyObject *
accel_parse(PyObject *module, PyObject *line)
{
    (void)module;
    if (state.fallback == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_irc_accel.setup() was not called");
        return NULL;
    }
    if (!PyUnicode_CheckExact(line)) {
        return fallback(line); /* not a str, or a subclass: the reference decides */
    }
    int kind = PyUnicode_KIND(line);
    const void *data = PyUnicode_DATA(line);
    Py_ssize_t end = PyUnicode_GET_LENGTH(line);

    /* Tolerate the line terminator a transport may leave on (CRLF, or a bare LF). */
    if (end >= 1 && PyUnicode_READ(kind, data, end - 1) == '\n') {
        end -= (end >= 2 && PyUnicode_READ(kind, data, end - 2) == '\r') ? 2 : 1;
    }

    PyObject *tags = NULL, *prefix = NULL, *command = NULL, *params = NULL, *msg = NULL;
    Py_ssize_t i = 0;
    tags = PyDict_New();
    if (tags == NULL) {
        return NULL;
    }
    if (i < end && PyUnicode_READ(kind, data, i) == '@') {
        Py_ssize_t space = find_space(kind, data, i, end);
        if (space == end) {
            goto reference; /* tags with no command after them */
        }
        if (space > 1 && parse_tags(tags, line, kind, data, 1, space) < 0) {
            goto error;
        }
        i = skip_spaces(kind, data, space + 1, end);
    }
    if (i < end && PyUnicode_READ(kind, data, i) == ':') {
        Py_ssize_t space = find_space(kind, data, i, end);
        if (space == end) {
            goto reference; /* a prefix with no command after it */
        }
        prefix = PyUnicode_Substring(line, i + 1, space);
        if (prefix == NULL) {
            goto error;
        }
        i = skip_spaces(kind, data, space + 1, end);
    }
    Py_ssize_t command_end = find_space(kind, data, i, end);
    if (command_end == i) {
        goto reference; /* no command */
    }
    command = PyUnicode_Substring(line, i, command_end);
    params = PyList_New(0);
    if (command == NULL || params == NULL) {
        goto error;
    }
    if (command_end < end) {
        i = skip_spaces(kind, data, command_end + 1, end);
        if (i < end && PyUnicode_READ(kind, data, i) == ':') {
            if (append_slice(params, line, i + 1, end) < 0) {
                goto error;
            }
        }
        else {
            /* Middle parameters up to the first " :", which starts the trailing one: a middle
               parameter cannot hold a space, so that colon begins a token. */
            Py_ssize_t middle_end = end, trailing = -1;
            for (Py_ssize_t j = i; j + 1 < end; j++) {
                if (PyUnicode_READ(kind, data, j) == ' '
                    && PyUnicode_READ(kind, data, j + 1) == ':') {
                    middle_end = j;
                    trailing = j + 2;
                    break;
                }
            }
            while (i < middle_end) {
                Py_ssize_t token_end = find_space(kind, data, i, middle_end);
                if (token_end > i && append_slice(params, line, i, token_end) < 0) {
                    goto error;
                }
                i = token_end + 1;
            }
            if (trailing >= 0 && append_slice(params, line, trailing, end) < 0) {
                goto error;
            }
        }
    }
    if (prefix == NULL) {
        prefix = Py_NewRef(Py_None);
    }
    msg = build_message(tags, prefix, command, params);
    /* fall through: the message holds its own references now */
error:
    Py_XDECREF(tags);
    Py_XDECREF(prefix);
    Py_XDECREF(command);
    Py_XDECREF(params);
    return msg;
reference:
    Py_XDECREF(tags);
    Py_XDECREF(prefix);
    return fallback(line);
}

/* ---------------------------------------------------------------------------------------
 * The emotes tag in the shape Twitch sends it: `id:a-b,c-d/id:e-f`, ids free of `:` and `/`,
 * numbers of 1 to 9 ASCII digits. Anything else is left to the Python walk (None).
 */

#define MAX_PLAIN_EMOTES 256

typedef struct {
    Py_ssize_t id_start, id_end; /* the entry's id in the tag value */
    long start, end;             /* the range, inclusive, in code points of the text */
} emote_span;

/* Read 1 to 9 ASCII digits at *i into *number. 0 on success, -1 when there are none or more. */
static int
read_number(int kind, const void *data, Py_ssize_t *i, Py_ssize_t end, long *number)
{
    Py_ssize_t first = *i;
    long value = 0;
    while (*i < end) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, *i);
        if (ch < '0' || ch > '9') {
            break;
        }
        value = value * 10 + (long)(ch - '0');
        (*i)++;
        if (*i - first > 9) {
            return -1;
        }
    }
    if (*i == first) {
        return -1;
    }
    *number = value;
    return 0;
}

/* Split a plain emotes tag into spans. Their count, or -1 when the tag is not plain. */
static Py_ssize_t
plain_spans(PyObject *value, emote_span *spans)
{
    int kind = PyUnicode_KIND(value);
    const void *data = PyUnicode_DATA(value);
    Py_ssize_t end = PyUnicode_GET_LENGTH(value), i = 0, count = 0;
    while (1) {
        Py_ssize_t id_start = i;
        while (i < end) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, i);
            if (ch == ':' || ch == '/') {
                break;
            }
            i++;
        }
        if (i == id_start || i == end || PyUnicode_READ(kind, data, i) != ':') {
            return -1;
        }
        Py_ssize_t id_end = i++;
        while (1) {
            long first, last;
            if (count == MAX_PLAIN_EMOTES || read_number(kind, data, &i, end, &first) < 0
                || i == end || PyUnicode_READ(kind, data, i) != '-') {
                return -1;
            }
            i++;
            if (read_number(kind, data, &i, end, &last) < 0) {
                return -1;
            }
            spans[count++] = (emote_span){id_start, id_end, first, last};
            if (i == end || PyUnicode_READ(kind, data, i) != ',') {
                break;
            }
            i++;
        }
        if (i == end) {
            return count;
        }
        if (PyUnicode_READ(kind, data, i) != '/') {
            return -1;
        }
        i++;
    }
}

/* The emotes of `value` as a tuple, a new reference to None when it is not plain, or NULL. */
static PyObject *
plain_emotes(PyObject *value, PyObject *text, PyObject *make_emote)
{
    emote_span spans[MAX_PLAIN_EMOTES];
    Py_ssize_t count = plain_spans(value, spans);
    if (count < 0) {
        Py_RETURN_NONE;
    }
    /* Ordered by start, keeping tag order among equals (insertion sort is stable). */
    for (Py_ssize_t j = 1; j < count; j++) {
        emote_span moving = spans[j];
        Py_ssize_t k = j;
        while (k > 0 && spans[k - 1].start > moving.start) {
            spans[k] = spans[k - 1];
            k--;
        }
        spans[k] = moving;
    }
    Py_ssize_t text_length = PyUnicode_GET_LENGTH(text);
    PyObject *result = PyTuple_New(count);
    if (result == NULL) {
        return NULL;
    }
    PyObject *id = NULL;
    Py_ssize_t id_at = -1;
    for (Py_ssize_t j = 0; j < count; j++) {
        emote_span *span = &spans[j];
        if (span->id_start != id_at) {
            Py_XDECREF(id);
            id = PyUnicode_Substring(value, span->id_start, span->id_end);
            if (id == NULL) {
                Py_DECREF(result);
                return NULL;
            }
            id_at = span->id_start;
        }
        /* text[start : end + 1] or None, with Python's slice clamping. */
        Py_ssize_t stop = (Py_ssize_t)span->end + 1;
        if (stop > text_length) {
            stop = text_length;
        }
        PyObject *name = (Py_ssize_t)span->start < stop
                             ? PyUnicode_Substring(text, (Py_ssize_t)span->start, stop)
                             : Py_NewRef(Py_None);
        PyObject *start = PyLong_FromLong(span->start);
        PyObject *end = PyLong_FromLong(span->end);
        PyObject *emote = NULL;
        if (name != NULL && start != NULL && end != NULL) {
            PyObject *fields[4] = {id, start, end, name};
            emote = PyObject_Vectorcall(make_emote, fields, 4, NULL);
        }
        Py_XDECREF(name);
        Py_XDECREF(start);
        Py_XDECREF(end);
        if (emote == NULL) {
            Py_XDECREF(id);
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, j, emote);
    }
    Py_XDECREF(id);
    return result;
}

static PyObject *
accel_plain_emotes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "plain_emotes(value: str, text: str, emote)");
        return NULL;
    }
    return plain_emotes(args[0], args[1], args[2]);
}

/* ---------------------------------------------------------------------------------------
 * The ChatEvent of a PRIVMSG, for the line as Twitch sends it: the compiled twin of the
 * common route of `irc._chat_event`. Whatever that route would hand to
 * its general fallback, and the rarer shapes it handles itself (a second or a badge set not
 * seen yet, an emotes tag not in the plain shape), gives None
 * here, and the caller then takes the Python route, which also fills the caches this reads.
 */

static struct {
    PyObject *make_event;   /* ChatEvent's positional constructor */
    PyObject *make_emote;   /* Emote's */
    PyObject *make_reply_parent; /* ReplyParent's */
    PyObject *now_utc;      /* () -> the current time, an aware UTC datetime */
    PyObject *second_starts; /* dict: whole seconds -> datetime (irc._second_starts) */
    PyObject *milliseconds; /* tuple of 1000 timedeltas (irc._MILLISECONDS) */
    PyObject *roles_cache;  /* dict: (badges, mod, vip, subscriber) -> roles */
    PyObject *key_reply_user_id, *key_reply_login, *key_reply_display_name, *key_reply_body;
    PyObject *key_ts, *key_bits, *key_emotes, *key_reply, *key_id, *key_user_id,
        *key_display_name, *key_first_msg, *key_color, *key_badges, *key_mod, *key_vip,
        *key_subscriber, *twitch, *privmsg, *empty;
} chat = {0};

#define MAX_FAST_MS 253402300800000LL /* irc._MAX_FAST_MS: datetime's year 9999 */
#define MAX_FAST_MS_DIGITS 15

/* tags[key] when it is a str, NULL (no error set) when absent; -1 in *odd for a non-str. */
static PyObject *
tag(PyObject *tags, PyObject *key, int *odd)
{
    PyObject *value = PyDict_GetItemWithError(tags, key); /* borrowed */
    if (value != NULL && !PyUnicode_CheckExact(value)) {
        *odd = 1;
        return NULL;
    }
    return value;
}

/* A run of 1 to max_digits ASCII digits as a number, or -1. */
static long long
digits_value(PyObject *value, Py_ssize_t max_digits)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    if (n == 0 || n > max_digits) {
        return -1;
    }
    int kind = PyUnicode_KIND(value);
    const void *data = PyUnicode_DATA(value);
    long long number = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < '0' || ch > '9') {
            return -1;
        }
        number = number * 10 + (long long)(ch - '0');
    }
    return number;
}

static PyObject *
accel_chat_event(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "chat_event(msg, now)");
        return NULL;
    }
    PyObject *msg = args[0], *now = args[1];
    if (chat.make_event == NULL || state.message_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_irc_accel.setup_chat_event() was not called");
        return NULL;
    }
    if ((PyObject *)Py_TYPE(msg) != state.message_type) {
        Py_RETURN_NONE;
    }
    PyObject *got[4] = {NULL, NULL, NULL, NULL}; /* tags, prefix, command, params */
    for (int i = 0; i < 4; i++) {
        PyObject *descr = state.slots[i];
        got[i] = Py_TYPE(descr)->tp_descr_get(descr, msg, state.message_type);
        if (got[i] == NULL) {
            for (int j = 0; j < i; j++) {
                Py_DECREF(got[j]);
            }
            return NULL;
        }
    }
    PyObject *tags = got[0], *prefix = got[1], *params = got[3];
    PyObject *result = NULL, *channel = NULL, *sent_at = NULL, *bits = NULL, *text = NULL,
             *emotes = NULL, *login = NULL, *seconds = NULL, *key = NULL, *parent = NULL;
    int odd = 0;
    if (!PyDict_CheckExact(tags) || !PyList_CheckExact(params) || PyList_GET_SIZE(params) < 2
        || (prefix != Py_None && !PyUnicode_CheckExact(prefix))) {
        goto python_route;
    }
    PyObject *first = PyList_GET_ITEM(params, 0), *body = PyList_GET_ITEM(params, 1);
    if (!PyUnicode_CheckExact(first) || !PyUnicode_CheckExact(body)) {
        goto python_route;
    }
    Py_ssize_t first_length = PyUnicode_GET_LENGTH(first);
    int hashed = first_length > 0 && PyUnicode_READ_CHAR(first, 0) == '#';
    if (first_length - hashed == 0 || PyUnicode_CompareWithASCIIString(first, "*") == 0) {
        goto python_route;
    }
    channel = hashed ? PyUnicode_Substring(first, 1, first_length) : Py_NewRef(first);
    if (channel == NULL) {
        goto error;
    }

    /* sent_at: the second's datetime (cached by the Python route) plus the milliseconds;
       the current time for a line without a timestamp. */
    PyObject *raw_ts = tag(tags, chat.key_ts, &odd);
    if (odd) {
        goto python_route;
    }
    if (raw_ts == NULL || PyUnicode_GET_LENGTH(raw_ts) == 0) {
        if (PyErr_Occurred()) {
            goto error;
        }
        if (now != Py_None) {
            goto python_route; /* the Python route validates a caller's `now` */
        }
        sent_at = PyObject_CallNoArgs(chat.now_utc);
    }
    else {
        long long ms = digits_value(raw_ts, MAX_FAST_MS_DIGITS);
        if (ms < 0 || ms >= MAX_FAST_MS) {
            goto python_route;
        }
        seconds = PyLong_FromLongLong(ms / 1000);
        if (seconds == NULL) {
            goto error;
        }
        PyObject *start = PyDict_GetItemWithError(chat.second_starts, seconds); /* borrowed */
        if (start == NULL) {
            goto checked_python_route;
        }
        sent_at = PyNumber_Add(start, PyTuple_GET_ITEM(chat.milliseconds, ms % 1000));
    }
    if (sent_at == NULL) {
        goto error;
    }

    PyObject *raw_bits = tag(tags, chat.key_bits, &odd);
    if (odd) {
        goto python_route;
    }
    if (raw_bits != NULL && PyUnicode_GET_LENGTH(raw_bits) > 0) {
        long long value = digits_value(raw_bits, 18);
        if (value < 0) {
            goto python_route;
        }
        bits = PyLong_FromLongLong(value);
    }
    else {
        bits = PyLong_FromLong(0);
    }
    if (bits == NULL) {
        goto error;
    }

    /* A /me line: "\x01ACTION text\x01". */
    Py_ssize_t body_length = PyUnicode_GET_LENGTH(body);
    int is_action = 0;
    if (body_length > 8 && PyUnicode_READ_CHAR(body, body_length - 1) == 0x01) {
        PyObject *head = PyUnicode_Substring(body, 0, 8);
        if (head == NULL) {
            goto error;
        }
        is_action = PyUnicode_CompareWithASCIIString(head, "\x01" "ACTION ") == 0;
        Py_DECREF(head);
    }
    text = is_action ? PyUnicode_Substring(body, 8, body_length - 1) : Py_NewRef(body);
    if (text == NULL) {
        goto error;
    }

    PyObject *raw_emotes = tag(tags, chat.key_emotes, &odd);
    if (odd) {
        goto python_route;
    }
    if (raw_emotes != NULL && PyUnicode_GET_LENGTH(raw_emotes) > 0) {
        emotes = plain_emotes(raw_emotes, text, chat.make_emote);
        if (emotes == NULL) {
            goto error;
        }
        if (emotes == Py_None) {
            goto python_route;
        }
    }
    else {
        emotes = PyTuple_New(0);
        if (emotes == NULL) {
            goto error;
        }
    }

    /* `nick!user@host` or `nick@host` names the chatter; a bare word does not. */
    if (prefix == Py_None) {
        login = Py_NewRef(chat.empty);
    }
    else {
        Py_ssize_t prefix_length = PyUnicode_GET_LENGTH(prefix);
        Py_ssize_t cut = PyUnicode_FindChar(prefix, '!', 0, prefix_length, 1);
        if (cut == -1) {
            cut = PyUnicode_FindChar(prefix, '@', 0, prefix_length, 1);
        }
        if (cut == -2) {
            goto error;
        }
        login = cut < 0 ? Py_NewRef(chat.empty) : PyUnicode_Substring(prefix, 0, cut);
        if (login == NULL) {
            goto error;
        }
    }

    /* A reply: the parent message as the reply-parent-* tags name it. */
    PyObject *parent_id = tag(tags, chat.key_reply, &odd);
    if (parent_id != NULL) {
        PyObject *reply_user_id = tag(tags, chat.key_reply_user_id, &odd);
        PyObject *reply_login = tag(tags, chat.key_reply_login, &odd);
        PyObject *reply_display_name = tag(tags, chat.key_reply_display_name, &odd);
        PyObject *reply_body = tag(tags, chat.key_reply_body, &odd);
        if (odd) {
            goto python_route;
        }
        if (PyErr_Occurred()) {
            goto error;
        }
        PyObject *fields[5] = {
            parent_id,
            reply_user_id ? reply_user_id : Py_None,
            reply_login ? reply_login : Py_None,
            reply_display_name ? reply_display_name : Py_None,
            reply_body ? reply_body : Py_None,
        };
        parent = PyObject_Vectorcall(chat.make_reply_parent, fields, 5, NULL);
        if (parent == NULL) {
            goto error;
        }
    }
    else if (odd) {
        goto python_route;
    }
    PyObject *message_id = tag(tags, chat.key_id, &odd);
    PyObject *user_id = tag(tags, chat.key_user_id, &odd);
    PyObject *display_name = tag(tags, chat.key_display_name, &odd);
    PyObject *first_msg = tag(tags, chat.key_first_msg, &odd);
    PyObject *color = tag(tags, chat.key_color, &odd);
    PyObject *badges = tag(tags, chat.key_badges, &odd);
    PyObject *mod = tag(tags, chat.key_mod, &odd);
    PyObject *vip = tag(tags, chat.key_vip, &odd);
    PyObject *subscriber = tag(tags, chat.key_subscriber, &odd);
    if (odd) {
        goto python_route;
    }
    if (PyErr_Occurred()) {
        goto error;
    }
    key = PyTuple_Pack(4, badges ? badges : Py_None, mod ? mod : Py_None, vip ? vip : Py_None,
                       subscriber ? subscriber : Py_None);
    if (key == NULL) {
        goto error;
    }
    PyObject *roles = PyDict_GetItemWithError(chat.roles_cache, key); /* borrowed */
    if (roles == NULL) {
        goto checked_python_route;
    }
    PyObject *values[16] = {
        chat.twitch,
        channel,
        message_id ? message_id : Py_None,
        sent_at,
        chat.privmsg,
        user_id && PyUnicode_GET_LENGTH(user_id) ? user_id : chat.empty,
        login,
        display_name && PyUnicode_GET_LENGTH(display_name) ? display_name : login,
        text,
        roles,
        emotes,
        bits,
        parent ? parent : Py_None,
        first_msg && PyUnicode_CompareWithASCIIString(first_msg, "1") == 0 ? Py_True
                                                                           : Py_False,
        is_action ? Py_True : Py_False,
        color && PyUnicode_GET_LENGTH(color) ? color : Py_None,
    };
    result = PyObject_Vectorcall(chat.make_event, values, 16, NULL);
    goto done;

checked_python_route:
    if (PyErr_Occurred()) {
        goto error;
    }
python_route:
    result = Py_NewRef(Py_None);
    goto done;
error:
    result = NULL;
done:
    for (int i = 0; i < 4; i++) {
        Py_DECREF(got[i]);
    }
    Py_XDECREF(channel);
    Py_XDECREF(sent_at);
    Py_XDECREF(bits);
    Py_XDECREF(text);
    Py_XDECREF(emotes);
    Py_XDECREF(login);
    Py_XDECREF(seconds);
    Py_XDECREF(key);
    Py_XDECREF(parent);
    return result;
}

static PyObject *
accel_setup_chat_event(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *make_event, *make_emote, *make_reply_parent, *now_utc, *second_starts,
        *milliseconds, *roles_cache;
    if (!PyArg_ParseTuple(args, "OOOOO!O!O!:setup_chat_event", &make_event, &make_emote,
                          &make_reply_parent, &now_utc, &PyDict_Type, &second_starts,
                          &PyTuple_Type, &milliseconds, &PyDict_Type, &roles_cache)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(milliseconds) != 1000) {
        PyErr_SetString(PyExc_ValueError, "milliseconds must hold 1000 timedeltas");
        return NULL;
    }
    static const char *names[] = {
        "tmi-sent-ts", "bits", "emotes", "reply-parent-msg-id", "id", "user-id",
        "display-name", "first-msg", "color", "badges", "mod", "vip", "subscriber",
        "twitch", "PRIVMSG", "", "reply-parent-user-id", "reply-parent-user-login",
        "reply-parent-display-name", "reply-parent-msg-body"};
    PyObject **targets[] = {
        &chat.key_ts, &chat.key_bits, &chat.key_emotes, &chat.key_reply, &chat.key_id,
        &chat.key_user_id, &chat.key_display_name, &chat.key_first_msg, &chat.key_color,
        &chat.key_badges, &chat.key_mod, &chat.key_vip, &chat.key_subscriber, &chat.twitch,
        &chat.privmsg, &chat.empty, &chat.key_reply_user_id, &chat.key_reply_login,
        &chat.key_reply_display_name, &chat.key_reply_body};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (*targets[i] == NULL) {
            *targets[i] = PyUnicode_InternFromString(names[i]);
            if (*targets[i] == NULL) {
                return NULL;
            }
        }
    }
    Py_XSETREF(chat.make_event, Py_NewRef(make_event));
    Py_XSETREF(chat.make_emote, Py_NewRef(make_emote));
    Py_XSETREF(chat.make_reply_parent, Py_NewRef(make_reply_parent));
    Py_XSETREF(chat.now_utc, Py_NewRef(now_utc));
    Py_XSETREF(chat.second_starts, Py_NewRef(second_starts));
    Py_XSETREF(chat.milliseconds, Py_NewRef(milliseconds));
    Py_XSETREF(chat.roles_cache, Py_NewRef(roles_cache));
    Py_RETURN_NONE;
}

static PyObject *
accel_setup(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *message_type, *fallback_parser;
    if (!PyArg_ParseTuple(args, "O!O:setup", &PyType_Type, &message_type, &fallback_parser)) {
        return NULL;
    }
    static const char *names[4] = {"tags", "prefix", "command", "params"};
    PyObject *slots[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        slots[i] = PyObject_GetAttrString(message_type, names[i]);
        if (slots[i] == NULL || Py_TYPE(slots[i])->tp_descr_set == NULL) {
            for (int j = 0; j <= i; j++) {
                Py_XDECREF(slots[j]);
            }
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "%s is not a settable slot", names[i]);
            }
            return NULL;
        }
    }
    Py_XSETREF(state.message_type, Py_NewRef(message_type));
    for (int i = 0; i < 4; i++) {
        Py_XSETREF(state.slots[i], slots[i]);
    }
    Py_XSETREF(state.fallback, Py_NewRef(fallback_parser));
    Py_RETURN_NONE;
}

static PyMethodDef accel_methods[] = {
    {"parse_irc_line", accel_parse, METH_O,
     "Parse one IRC line into an IrcMessage (the compiled twin of the Python parser)."},
    {"plain_emotes", (PyCFunction)(void (*)(void))accel_plain_emotes, METH_FASTCALL,
     "plain_emotes(value, text, emote): the emotes of a plain Twitch emotes tag as a tuple "
     "made by emote(id, start, end, name), ordered by start; None for any other shape."},
    {"chat_event", (PyCFunction)(void (*)(void))accel_chat_event, METH_FASTCALL,
     "chat_event(msg, now): the ChatEvent of a PRIVMSG as Twitch sends it, or None to take "
     "the Python route (see irc._chat_event)."},
    {"setup_chat_event", accel_setup_chat_event, METH_VARARGS,
     "setup_chat_event(make_event, make_emote, make_reply_parent, now_utc, second_starts, "
     "milliseconds, roles_cache)."},
    {"setup", accel_setup, METH_VARARGS,
     "setup(IrcMessage, python_parser): the class to build and the parser to defer to."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_irc_accel",
    .m_doc = "Compiled twin of the Twitch IRC line parser (see actors/twitch/irc.py).",
    .m_size = -1,
    .m_methods = accel_methods,
};

PyMODINIT_FUNC
PyInit__irc_accel(void)
{
    return PyModule_Create(&accel_module);
}
