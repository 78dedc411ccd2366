/* pysr.h — the C API of libpysr: run `.pysr` super-resolution models from C and C++ hosts.
 *
 * Plain C (C99 and C++ alike). Every call that can fail returns `pysr_status`; on failure
 * `pysr_last_error()` holds a message naming the problem (thread-local: it belongs to the calling
 * thread and stays valid until that thread's next failing call). No C++ exception ever crosses this
 * boundary.
 *
 * Thread safety:
 *   - A `pysr_model_t` is immutable once loaded: any number of threads may create sessions from it and
 *     query it at the same time. Free it only after every session made from it is freed.
 *   - A `pysr_session_t` is used by ONE thread at a time (it owns the buffers of one input size, its
 *     thread pool and, for recurrent models later, their state). Distinct sessions run concurrently.
 *
 * Layouts (all tightly defined; strides are in bytes and may exceed the row size):
 *   RGB u8   H×W×3 interleaved R, G, B rows; value/255 is the network's [0, 1] input. Output rounded half
 *            to even from clamp(x, 0, 1)·255, as `pysr.run` does.
 *   Y u8     H×W one plane (a Y model's luma), same scaling and rounding; output clamped to [0, 1].
 *   float    N×C×H×W contiguous float32 (NCHW), the network's own input and output, unclamped.
 */
#ifndef PYSR_H
#define PYSR_H

#include <stddef.h>
#include <stdint.h>

#define PYSR_VERSION_MAJOR 0
#define PYSR_VERSION_MINOR 1
#define PYSR_VERSION_PATCH 0
/* Bumped whenever a declaration below changes incompatibly. */
#define PYSR_API_VERSION 1

#if defined(_WIN32)
#  if defined(PYSR_BUILDING_LIBRARY) && !defined(PYSR_STATIC)
#    define PYSR_API __declspec(dllexport)
#  elif !defined(PYSR_STATIC)
#    define PYSR_API __declspec(dllimport)
#  else
#    define PYSR_API
#  endif
#else
#  define PYSR_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: values are explicit and never reused. */
typedef enum pysr_status {
    PYSR_STATUS_OK = 0,
    PYSR_STATUS_INVALID_ARGUMENT = 1, /* NULL pointer, size out of range, bad stride, wrong entry point */
    PYSR_STATUS_IO_ERROR = 2,         /* a file could not be opened or read */
    PYSR_STATUS_INVALID_MODEL = 3,    /* the .pysr file breaks docs/model-file.md; the message names where */
    PYSR_STATUS_UNSUPPORTED = 4,      /* valid model, but an op / feature this build does not implement */
    PYSR_STATUS_SHAPE_ERROR = 5,      /* the input size does not fit the model (e.g. reflect pad > size) */
    PYSR_STATUS_OUT_OF_MEMORY = 6,
    PYSR_STATUS_INTERNAL = 7          /* a bug in libpysr: please report the message */
} pysr_status;

typedef enum pysr_colour_mode {
    PYSR_COLOUR_Y = 1,   /* the network runs on luma; chroma is resized (see docs/model-file.md §4) */
    PYSR_COLOUR_RGB = 2  /* the network takes and returns R, G, B planes */
} pysr_colour_mode;

typedef enum pysr_temporal_kind {
    PYSR_TEMPORAL_SINGLE = 1,    /* one frame in, one frame out */
    PYSR_TEMPORAL_WINDOW = 2,    /* 2k+1 frames in, the middle one out (k in pysr_model_facts.window) */
    PYSR_TEMPORAL_RECURRENT = 3  /* one frame in, state carried between frames */
} pysr_temporal_kind;

typedef struct pysr_model pysr_model_t;
typedef struct pysr_session pysr_session_t;

/* The facts of a model (`pysr.model` of the file). */
typedef struct pysr_model_facts {
    int32_t scale;            /* output size = scale × input size */
    int32_t colour_mode;      /* pysr_colour_mode */
    int32_t temporal_kind;    /* pysr_temporal_kind */
    int32_t window;           /* k of window(k); 0 otherwise */
    int32_t receptive_field;  /* LR pixels on each side that influence an output pixel */
    int32_t input_channels;   /* channels of the network input (1 for Y models, 3 for RGB) */
    int32_t output_channels;  /* channels of the network output */
    float input_lo, input_hi; /* input_range */
} pysr_model_facts;

/* Options of a session, filled with defaults by pysr_session_default_params(). */
typedef struct pysr_session_params {
    int32_t num_threads; /* worker threads of this session, >= 1; 0 = one per online CPU (default) */
    int32_t batch;       /* N of the float entry point (default 1); the u8 entry points take one frame */
} pysr_session_params;

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
PYSR_API const char *pysr_version(void);
/* A constant English name of a status ("ok", "invalid model", …); never NULL. */
PYSR_API const char *pysr_status_to_string(pysr_status status);
/* The message of the calling thread's last failure ("" if none); never NULL. */
PYSR_API const char *pysr_last_error(void);

/* Load and fully check a .pysr file (every check of docs/model-file.md §5). On failure *out is NULL.
 * load_memory copies what it needs: the buffer may be freed after the call. */
PYSR_API pysr_status pysr_model_load_file(const char *path, pysr_model_t **out);
PYSR_API pysr_status pysr_model_load_memory(const void *data, size_t size, pysr_model_t **out);
PYSR_API void pysr_model_free(pysr_model_t *model); /* NULL is a no-op */

PYSR_API pysr_status pysr_model_get_facts(const pysr_model_t *model, pysr_model_facts *out);
/* Short name (facts `name`, else `architecture`); owned by the model. */
PYSR_API const char *pysr_model_name(const pysr_model_t *model);

PYSR_API void pysr_session_default_params(pysr_session_params *params);
/* A session for inputs of width × height pixels (the LR size). params may be NULL (defaults).
 * The network's buffers are planned here; the RGB / Y u8 pipelines on their first use. */
PYSR_API pysr_status pysr_session_create(const pysr_model_t *model, int32_t width, int32_t height,
                                         const pysr_session_params *params, pysr_session_t **out);
PYSR_API void pysr_session_free(pysr_session_t *session); /* NULL is a no-op */

/* Output size of this session: width·scale × height·scale. */
PYSR_API pysr_status pysr_session_output_size(const pysr_session_t *session, int32_t *out_width,
                                              int32_t *out_height);

/* One RGB frame (any model: Y models go through the colour pipeline of their facts). */
PYSR_API pysr_status pysr_session_run_rgb_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride,
                                             uint8_t *dst, ptrdiff_t dst_stride);
/* One Y plane through a Y model's network (input_channels must be 1). */
PYSR_API pysr_status pysr_session_run_y_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride,
                                           uint8_t *dst, ptrdiff_t dst_stride);
/* batch × input_channels × height × width floats in, batch × output_channels × (height·scale) ×
 * (width·scale) floats out; src and dst must not overlap. */
PYSR_API pysr_status pysr_session_run_float(pysr_session_t *session, const float *src, float *dst);

#ifdef __cplusplus
}
#endif

#endif /* PYSR_H */
