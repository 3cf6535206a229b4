/*
 * Positional constructors for slotted value classes, for the hot paths that build one object
 * per chat line (`ChatEvent`, `Emote`).
 *
 * `constructor(cls, names)` returns a callable taking exactly len(names) positional values;
 * it allocates an instance of `cls` as `object.__new__(cls)` does and stores each value
 * through the class's slot descriptor for that name, which is what the Python twins in
 * `actors/events.py` do with `descriptor.__set__` (frozen attrs classes refuse setattr, the
 * descriptors do not). No conversion or validation runs: callers pass known-good values.
 * Optional: without it, events.py uses its Python constructors (same objects, slower).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyTypeObject *type;
    PyObject *descriptors; /* tuple of slot descriptors, in argument order */
} Constructor;

static PyObject *
constructor_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                       PyObject *kwnames)
{
    Constructor *self = (Constructor *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t expected = PyTuple_GET_SIZE(self->descriptors);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_Format(PyExc_TypeError, "%s constructor takes positional values only",
                     self->type->tp_name);
        return NULL;
    }
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s constructor takes %zd values (%zd given)",
                     self->type->tp_name, expected, nargs);
        return NULL;
    }
    PyObject *obj = self->type->tp_alloc(self->type, 0);
    if (obj == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject *descr = PyTuple_GET_ITEM(self->descriptors, i);
        if (Py_TYPE(descr)->tp_descr_set(descr, obj, args[i]) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    return obj;
}

static void
constructor_dealloc(PyObject *op)
{
    Constructor *self = (Constructor *)op;
    Py_XDECREF(self->type);
    Py_XDECREF(self->descriptors);
    Py_TYPE(op)->tp_free(op);
}

static PyObject *
constructor_repr(PyObject *op)
{
    return PyUnicode_FromFormat("<compiled constructor of %s>", ((Constructor *)op)->type->tp_name);
}

static PyTypeObject ConstructorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "actors._slotted.Constructor",
    .tp_basicsize = sizeof(Constructor),
    .tp_dealloc = constructor_dealloc,
    .tp_vectorcall_offset = offsetof(Constructor, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_repr = constructor_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A positional constructor made by actors._slotted.constructor().",
};

static PyObject *
slotted_constructor(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *cls, *names;
    if (!PyArg_ParseTuple(args, "O!O!:constructor", &PyType_Type, &cls, &PyTuple_Type, &names)) {
        return NULL;
    }
    if (((PyTypeObject *)cls)->tp_alloc == NULL) {
        PyErr_SetString(PyExc_TypeError, "the class cannot be allocated");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    PyObject *descriptors = PyTuple_New(n);
    if (descriptors == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_Check(name)) {
            Py_DECREF(descriptors);
            PyErr_SetString(PyExc_TypeError, "field names must be str");
            return NULL;
        }
        /* On the class, a slot's attribute is its member descriptor itself. */
        PyObject *descr = PyObject_GetAttr(cls, name);
        if (descr == NULL || !PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
            Py_XDECREF(descr);
            Py_DECREF(descriptors);
            PyErr_Format(PyExc_TypeError, "%R is not a slot of %s", name,
                         ((PyTypeObject *)cls)->tp_name);
            return NULL;
        }
        PyTuple_SET_ITEM(descriptors, i, descr);
    }
    Constructor *self = PyObject_New(Constructor, &ConstructorType);
    if (self == NULL) {
        Py_DECREF(descriptors);
        return NULL;
    }
    self->vectorcall = constructor_vectorcall;
    self->type = (PyTypeObject *)Py_NewRef(cls);
    self->descriptors = descriptors;
    return (PyObject *)self;
}

static PyMethodDef slotted_methods[] = {
    {"constructor", slotted_constructor, METH_VARARGS,
     "constructor(cls, names): a callable building cls from len(names) positional values, "
     "stored through the slot descriptors of those names."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef slotted_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_slotted",
    .m_doc = "Positional constructors for slotted value classes (see actors/events.py).",
    .m_size = -1,
    .m_methods = slotted_methods,
};

PyMODINIT_FUNC
PyInit__slotted(void)
{
    if (PyType_Ready(&ConstructorType) < 0) {
        return NULL;
    }
    return PyModule_Create(&slotted_module);
}
