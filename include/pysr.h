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
 *     thread pool and the frames and state of its sequence). Distinct sessions run concurrently, also
 *     sessions of one model.
 *
 * Layouts (all tightly defined; strides are in bytes and may exceed the row size):
 *   RGB u8   H×W×3 interleaved R, G, B rows; value/255 is the network's [0, 1] input. Output rounded half
 *            to even from clamp(x, 0, 1)·255, as `pysr.run` does.
 *   Y u8     H×W one plane (a Y model's luma), same scaling and rounding; output clamped to [0, 1].
 *   float    N×C×H×W contiguous float32 (NCHW), the network's own input and output, unclamped.
 *   YUV420 u8  three planes (I420, 8 bit): Y W×H, U (Cb) and V (Cr) ⌈W/2⌉×⌈H/2⌉, each with its own stride,
 *            and the colour (matrix, range) of the frame (pysr_yuv420_src / pysr_yuv420_dst). What `pysr upscale`
 *            does for a 4:2:0 video, step for step (pysr/video/colour.py, bit for bit): in, the planes become an
 *            RGB u8 frame (each chroma sample covers its 2×2 block; float32, rounded half to even, clipped);
 *            that frame goes through the model as with the RGB entry point (a Y model's network sees the Y of
 *            the model's own colour facts, its chroma is resized by the model's chroma resize); out, the RGB u8
 *            output becomes planes in the dst colour (U, V the mean of each 2×2 block, edge-padded at odd sizes).
 *
 * Sequences (docs/c-api.md "Video: send and receive", docs/temporal.md): a session is one stream of frames
 * of one size. pysr_session_send_* queues a frame, pysr_session_receive_* writes the next output in order:
 *   single        output t is frame t's (latency 0).
 *   recurrent     output t also reads the state carried from frame t−1 (zeros, or the frame itself, before
 *                 the first frame); latency 0. run_* works too: one send and one receive.
 *   window(k)     output t is the network on frames t−k … t+k, the indices reflected at the ends of the
 *                 sequence (−1 → 1, n → n−2, repeatedly for short sequences); it is ready once frame t+k was
 *                 sent or after pysr_session_flush (latency k = facts.latency). run_* refuses these models.
 * Every frame of a sequence comes as one format (RGB u8, Y u8, YUV420 u8 or float) and its outputs leave in it.
 */
#ifndef PYSR_H
#define PYSR_H

#include <stddef.h>
#include <stdint.h>

#define PYSR_VERSION_MAJOR 0
#define PYSR_VERSION_MINOR 3
#define PYSR_VERSION_PATCH 0
/* Bumped whenever a declaration below changes incompatibly. */
#define PYSR_API_VERSION 3

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
    PYSR_STATUS_INTERNAL = 7,         /* a bug in libpysr: please report the message */
    PYSR_STATUS_AGAIN = 8,            /* not a failure: receive has no output ready yet (send more frames, or flush);
                                         send takes no frame while an output waits to be received */
    PYSR_STATUS_DEVICE_ERROR = 9      /* the CUDA device asked for is missing (no driver, device N of M present) or
                                         failed; the message has the CUDA runtime's error */
} pysr_status;

/* The arithmetic of a session on a CUDA device (pysr_session_params.precision; docs/cuda.md). The CPU runs FP32. */
typedef enum pysr_precision {
    PYSR_PRECISION_FP32 = 0, /* float32 everywhere: the CPU's tolerances */
    PYSR_PRECISION_TF32 = 1, /* float32 tensors; groups-1 convs on tensor cores with TF32 inputs (sm_80+) */
    PYSR_PRECISION_FP16 = 2, /* half tensors between ops, float32 arithmetic; groups-1 convs on tensor cores */
    PYSR_PRECISION_BF16 = 3  /* bfloat16 tensors between ops, float32 arithmetic; groups-1 convs on tensor cores */
} pysr_precision;

typedef enum pysr_colour_mode {
    PYSR_COLOUR_Y = 1,   /* the network runs on luma; chroma is resized (see docs/model-file.md §4) */
    PYSR_COLOUR_RGB = 2  /* the network takes and returns R, G, B planes */
} pysr_colour_mode;

typedef enum pysr_temporal_kind {
    PYSR_TEMPORAL_SINGLE = 1,    /* one frame in, one frame out */
    PYSR_TEMPORAL_WINDOW = 2,    /* 2k+1 frames in, the middle one out (k in pysr_model_facts.window) */
    PYSR_TEMPORAL_RECURRENT = 3  /* one frame in, state carried between frames */
} pysr_temporal_kind;

/* The colour of 8-bit YUV frames. Matrix values are those of ITU-T H.273 matrix_coefficients (FFmpeg's
 * AVColorSpace); range values those of FFmpeg's AVColorRange. pysr assumes for an untagged stream BT.601 under
 * 720 lines, BT.709 from 720 lines up, limited range (pysr/video/colour.py from_tags). */
typedef enum pysr_yuv_matrix {
    PYSR_YUV_MATRIX_BT709 = 1,   /* Kr 0.2126, Kb 0.0722 */
    PYSR_YUV_MATRIX_BT470BG = 5, /* BT.601 625-line: the BT.601 matrix */
    PYSR_YUV_MATRIX_BT601 = 6    /* SMPTE 170M (BT.601 525-line): Kr 0.299, Kb 0.114 */
} pysr_yuv_matrix;

typedef enum pysr_yuv_range {
    PYSR_YUV_RANGE_LIMITED = 1,  /* Y 16–235, U and V 16–240 ("tv", "mpeg") */
    PYSR_YUV_RANGE_FULL = 2      /* 0–255 ("pc", "jpeg") */
} pysr_yuv_range;

/* One 4:2:0 frame in: Y width × height, U (Cb) and V (Cr) ⌈width/2⌉ × ⌈height/2⌉ bytes; strides in bytes, each at
 * least its plane's row. */
typedef struct pysr_yuv420_src {
    const uint8_t *y, *u, *v;
    ptrdiff_t y_stride, u_stride, v_stride;
    int32_t matrix; /* pysr_yuv_matrix */
    int32_t range;  /* pysr_yuv_range */
} pysr_yuv420_src;

/* One 4:2:0 frame out (the output size: width·scale × height·scale, chroma ⌈·/2⌉), written in its own colour:
 * give the input's to keep the stream's colour, as `pysr upscale` does (its yuvj* outputs are full range). */
typedef struct pysr_yuv420_dst {
    uint8_t *y, *u, *v;
    ptrdiff_t y_stride, u_stride, v_stride;
    int32_t matrix; /* pysr_yuv_matrix */
    int32_t range;  /* pysr_yuv_range */
} pysr_yuv420_dst;

typedef struct pysr_model pysr_model_t;
typedef struct pysr_session pysr_session_t;

/* The facts of a model (`pysr.model` of the file). */
typedef struct pysr_model_facts {
    int32_t scale;            /* output size = scale × input size */
    int32_t colour_mode;      /* pysr_colour_mode */
    int32_t temporal_kind;    /* pysr_temporal_kind */
    int32_t window;           /* k of window(k); 0 otherwise */
    int32_t receptive_field;  /* LR pixels on each side that influence an output pixel */
    int32_t input_channels;   /* channels of one input frame of the network (1 for Y models, 3 for RGB) */
    int32_t output_channels;  /* channels of the network's frame output */
    float input_lo, input_hi; /* input_range */
    int32_t latency;          /* frames an output trails its input: k for window(k), else 0 */
} pysr_model_facts;

/* Options of a session, filled with defaults by pysr_session_default_params(). */
typedef struct pysr_session_params {
    int32_t num_threads; /* worker threads of this session, >= 1; 0 = one per online CPU (default) */
    int32_t batch;       /* N of run_float for single-frame models (default 1); must be 1 for temporal models;
                            the u8 entry points and send / receive take one frame */
    int32_t device;      /* -1 = the CPU (default); N >= 0 = CUDA device N (a build with PYSR_CUDA): the network runs
                            there, frame conversions (u8, YUV) stay on the CPU */
    int32_t precision;   /* pysr_precision, default PYSR_PRECISION_FP32 (the only one on the CPU) */
} pysr_session_params;

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
PYSR_API const char *pysr_version(void);
/* A constant English name of a status ("ok", "invalid model", …); never NULL. */
PYSR_API const char *pysr_status_to_string(pysr_status status);
/* The message (UTF-8) of the calling thread's last failure ("" if none); never NULL. */
PYSR_API const char *pysr_last_error(void);

/* CUDA devices this library can run sessions on: OK and the count (0 without a driver or a device); in a build
 * without PYSR_CUDA, PYSR_STATUS_UNSUPPORTED with *out = 0. */
PYSR_API pysr_status pysr_cuda_device_count(int32_t *out);

/* Load and fully check a .pysr file (every check of docs/model-file.md §5). On failure *out is NULL.
 * load_memory copies what it needs: the buffer may be freed after the call. Besides those checks the reader
 * refuses (PYSR_STATUS_INVALID_MODEL) what would take gigabytes or minutes to read (docs/model-file.md §1): a
 * JSON document (header, graph, facts) of more than 2^20 values or nested deeper than 256, and a graph with a
 * value outside 4 dimensions in [1, 2^31 − 1] or over 2^32 elements at the 64 × 64 check. */
PYSR_API pysr_status pysr_model_load_file(const char *path, pysr_model_t **out);
PYSR_API pysr_status pysr_model_load_memory(const void *data, size_t size, pysr_model_t **out);
PYSR_API void pysr_model_free(pysr_model_t *model); /* NULL is a no-op */

PYSR_API pysr_status pysr_model_get_facts(const pysr_model_t *model, pysr_model_facts *out);
/* Short name (facts `name`, else `architecture`); owned by the model. */
PYSR_API const char *pysr_model_name(const pysr_model_t *model);

PYSR_API void pysr_session_default_params(pysr_session_params *params);
/* A session for inputs of width × height pixels (the LR size). params may be NULL (defaults).
 * The network's buffers are planned here (PYSR_STATUS_SHAPE_ERROR when the size does not fit, e.g. EGVSR
 * under 8×8, or when a value of the network at this size would have a dimension over 2^31 − 1 or more than
 * 2^32 elements); the RGB / Y / YUV420 u8 pipelines on their first use.
 * params->device >= 0: the network runs on that CUDA device at params->precision (weights copied there once per model
 * and device): PYSR_STATUS_UNSUPPORTED in a build without PYSR_CUDA, PYSR_STATUS_DEVICE_ERROR when the device is not
 * there (the message says why: no driver, N devices present). */
PYSR_API pysr_status pysr_session_create(const pysr_model_t *model, int32_t width, int32_t height,
                                         const pysr_session_params *params, pysr_session_t **out);
PYSR_API void pysr_session_free(pysr_session_t *session); /* NULL is a no-op */

/* Output size of this session: width·scale × height·scale. */
PYSR_API pysr_status pysr_session_output_size(const pysr_session_t *session, int32_t *out_width,
                                              int32_t *out_height);
/* Re-plans the session for width × height frames; the same size changes nothing. Another size starts a new
 * sequence (recurrent state dropped). Refused (PYSR_STATUS_INVALID_ARGUMENT) while sent frames still have
 * outputs to receive: flush and receive them first, or reset. On failure the session keeps its old size. */
PYSR_API pysr_status pysr_session_resize(pysr_session_t *session, int32_t width, int32_t height);

/* run_*: one frame in, its output out — single-frame and recurrent models (a recurrent session carries its
 * state from call to call; refused while frames sent with send_* wait). Window models: send / receive. */

/* One RGB frame (any model: Y models go through the colour pipeline of their facts). PYSR_STATUS_UNSUPPORTED
 * for a network whose output is its input (a graph with no node). */
PYSR_API pysr_status pysr_session_run_rgb_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride,
                                             uint8_t *dst, ptrdiff_t dst_stride);
/* One Y plane through a Y model's network (input_channels must be 1). */
PYSR_API pysr_status pysr_session_run_y_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride,
                                           uint8_t *dst, ptrdiff_t dst_stride);
/* One 4:2:0 frame (any model, as run_rgb_u8: see "YUV420 u8" above). */
PYSR_API pysr_status pysr_session_run_yuv420_u8(pysr_session_t *session, const pysr_yuv420_src *src,
                                                const pysr_yuv420_dst *dst);
/* batch × input_channels × height × width floats in, batch × output_channels × (height·scale) ×
 * (width·scale) floats out; src and dst must not overlap. */
PYSR_API pysr_status pysr_session_run_float(pysr_session_t *session, const float *src, float *dst);

/* Send / receive: frames of a sequence in, their outputs out in order, for every temporal kind.
 *   send_*     takes one frame (same layouts as run_*; float: input_channels × height × width). It returns
 *              PYSR_STATUS_AGAIN and takes nothing while an output waits: receive first. The input may be
 *              reused as soon as the call returns.
 *   receive_*  writes the next output (RGB / Y / YUV420 u8, or output_channels × (height·scale) × (width·scale)
 *              floats, the network's frame output unclamped) and returns OK, or PYSR_STATUS_AGAIN when none
 *              is ready. The network runs here.
 *   flush      ends the sequence: its remaining outputs become ready (window models' last k); once they are
 *              received — at once when none is left — the session is fresh: state dropped, next send starts
 *              a new sequence. Flushing again before that changes nothing.
 *   reset      drops the state and every frame held, without output; the next send starts a new sequence.
 * One format per sequence: sending or receiving another one is PYSR_STATUS_INVALID_ARGUMENT until the
 * sequence is reset or its flushed outputs are received. A loop that sends a frame and then receives until
 * PYSR_STATUS_AGAIN never sees send refuse; after the last frame: flush, then receive until
 * PYSR_STATUS_AGAIN — as many outputs as frames. PYSR_STATUS_AGAIN leaves pysr_last_error() unchanged. */
PYSR_API pysr_status pysr_session_send_rgb_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride);
PYSR_API pysr_status pysr_session_send_y_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride);
PYSR_API pysr_status pysr_session_send_yuv420_u8(pysr_session_t *session, const pysr_yuv420_src *src);
PYSR_API pysr_status pysr_session_send_float(pysr_session_t *session, const float *src);
PYSR_API pysr_status pysr_session_receive_rgb_u8(pysr_session_t *session, uint8_t *dst, ptrdiff_t dst_stride);
PYSR_API pysr_status pysr_session_receive_y_u8(pysr_session_t *session, uint8_t *dst, ptrdiff_t dst_stride);
PYSR_API pysr_status pysr_session_receive_yuv420_u8(pysr_session_t *session, const pysr_yuv420_dst *dst);
PYSR_API pysr_status pysr_session_receive_float(pysr_session_t *session, float *dst);
PYSR_API pysr_status pysr_session_flush(pysr_session_t *session);
PYSR_API pysr_status pysr_session_reset(pysr_session_t *session);

#ifdef __cplusplus
}
#endif

#endif /* PYSR_H */
