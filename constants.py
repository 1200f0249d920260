"""Every default of the project in one place.

Scripts read their defaults from here and show them in ``--help``; the layer
tables are those of ``../shared/REFERENCE.md`` ("paper" preset), with narrower
presets derived from them for CPU work.
"""
import os

# --- data layout ---------------------------------------------------------------
DATA_DIR = os.path.join('data')
TRAIN_DIR = os.path.join(DATA_DIR, 'images', 'train')
TEST_DIR = os.path.join(DATA_DIR, 'images', 'test')
TRAIN_CLIPS_DIR = os.path.join(DATA_DIR, 'trainclips')
RESULT_DIR = 'result'
# The shipped generators: pacman_<variant>.model, as benchmarks/quality.py names variants.
PRETRAINED_DIR = 'pretrained'
TEST_OUT_DIR = os.path.join(RESULT_DIR, 'test')

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.gif')

# --- clips ---------------------------------------------------------------------
HIST_LEN = 4                 # input frames per prediction (train.py --hist-len)
# Training crops are CROP_SIZE x CROP_SIZE (process_data.py --crop-size; train.py
# takes the side from the clips).
CROP_SIZE = 32
# A crop is kept when its motion, the squared difference between consecutive
# frames summed over the clip's pixels and channels on the [-1, 1] scale,
# exceeds this (the TF code's value)...
CLIP_MOTION_THRESHOLD = 100.0
# ...except this fraction of clips, kept without looking at motion.
UNFILTERED_FRACTION = 0.05
# The frames that motion is measured on (process_data.py --motion-frames): 'clip',
# the whole clip, frame to predict included (the TF code's), or 'history', the
# input frames alone. Measured on the whole clip, the filter keeps a clip whose
# input frames are still only when its last frame moves, so a model learns that
# what stood still starts to move: in Ms. Pac-Man, 63% of such kept clips move next,
# and generators trained on them moved the ghosts the game freezes while Ms. Pac-Man dies.
CLIP_MOTION_FRAMES = 'clip'
MOTION_FRAMES_CHOICES = ('clip', 'history')
# Random crops tried at one start frame before drawing another start.
CROP_TRIES = 100
NUM_CLIPS = 500000           # as the original README
SHARD_SIZE = 10000           # clips per .npz shard
SEED = 0

# --- built-in Ms. Pac-Man frames -----------------------------------------------
PACMAN_GAME = 'ms_pacman'
PACMAN_TRAIN_VIDEOS = 4
PACMAN_TEST_VIDEOS = 2
PACMAN_FRAMES = 300          # frames kept per video
PACMAN_FRAME_SKIP = 2        # emulator frames between kept frames
PACMAN_INTRO_FRAMES = 270    # emulator frames of the start jingle, when nothing moves
PACMAN_ACTION_REPEAT = 8     # mean frames a random action is held (sticky policy)
# Each sprite's colour (RGB) in the game's frames, one colour to a sprite, so a
# sprite's pixels are those of its colour: quality.py's sprite table.
PACMAN_SPRITES = (('Ms. Pac-Man', (210, 164, 74)), ('red ghost', (200, 72, 72)),
                  ('pink ghost', (198, 89, 179)), ('cyan ghost', (84, 184, 153)),
                  ('orange ghost', (180, 122, 48)))
# --full: the size of data set a GPU user trains on.
PACMAN_FULL = dict(train_videos=200, test_videos=20, frames=1000)

# --- model presets -------------------------------------------------------------
NUM_SCALES = 4               # generator and discriminator scales 1/8 .. 1 (--num-scales)

# Paper tables, coarsest scale first (a model with fewer scales uses the finest
# rows). The generator's hidden feature maps: each scale maps its input (the
# history, plus the upscaled coarser prediction for every scale but the
# coarsest; 12 and 15 channels for 4 frames) through these to 3 channels.
PAPER_G_HIDDEN = [[128, 256, 128],
                  [128, 256, 128],
                  [128, 256, 512, 256, 128],
                  [128, 256, 512, 256, 128]]
PAPER_G_KERNELS = [[3, 3, 3, 3],
                   [5, 3, 3, 5],
                   [5, 3, 3, 3, 3, 5],
                   [7, 5, 5, 5, 5, 7]]
# The discriminator's first entry is its input (3 channels; 3 * hist_len more when
# conditioned on the history).
PAPER_D_MAPS = [[3, 64],
                [3, 64, 128, 128],
                [3, 128, 256, 256],
                [3, 128, 256, 512, 128]]
PAPER_D_KERNELS = [[3], [3, 3, 3], [5, 5, 5], [7, 7, 5, 5]]
PAPER_D_FC = [[512, 256, 1], [1024, 512, 1], [1024, 512, 1], [1024, 512, 1]]

# Presets divide the hidden widths (not inputs and outputs) of the paper tables.
PRESETS = {
    'paper': 1,    # the GPU default
    'small': 4,    # widths / 4: CPU training
    'tiny': 16,    # widths / 16: tests and the demo
}
PRESET = 'paper'
# models/conv.py on the CPU builds im2col columns a block of output rows at a
# time: at most CONV_BLOCK_BYTES, which stay in cache between their copy and their
# product, but at least CONV_BLOCK_ROWS output pixels, which keep the product
# worth its packing (paper-sized layers). Measured on a 2-core EPYC (32 MB L3):
# benchmarks/RESULTS.md.
CONV_BLOCK_BYTES = 8 << 20
CONV_BLOCK_ROWS = 512
# The weight gradient sums one product per block; blocks of at least this many
# output pixels per output channel keep the sums cheap next to the products.
CONV_GRAD_ROWS_PER_CHANNEL = 4
# The input gradient convolves the output gradient with the flipped kernel while
# that copies at most this many numbers per number the other route would add back
# (models/conv.py); measured per layer at the small and paper widths.
CONV_FLIP_RATIO = 2.5
# D sees the history with the frame (the paper) rather than the frame alone (TF code).
D_CONDITIONED = True
# Add the upscaled previous prediction before the tanh (the authors' Torch code).
RESIDUAL = False
# Each scale predicts mask * last input frame + (1 - mask) * generated frame
# (train.py --copy-mask); the mask's initial bias makes it start near "copy"
# (sigmoid(2) = 0.88).
COPY_MASK = False
COPY_MASK_BIAS = 2.0
# The input frames, newest first, that the copy mask may copy from (train.py
# --copy-frames): 1 is the last frame alone. An Atari game draws some sprites on
# alternate frames (flicker), so the colour a pixel takes next is often the one it
# had two or three frames back, which a copy gives exactly and a generator has to
# learn to draw. The older frames' logits start far below the generated frame's (0),
# each weighing e ** -8 (0.03%), so a mask widened to them first predicts as before
# to within that; their weights learn (the mask's loss pulls them) and move them.
COPY_FRAMES = 1
COPY_OLDER_BIAS = -8.0
# With the copy mask, D judges the generated branch rather than the blended frame
# (train.py --d-generated): a blended frame copies most pixels exactly, and D at
# chance on it gives G no gradient worth its weight.
D_GENERATED = False
# D judges the change from the last input frame, times this gain, instead of the
# frame (train.py --d-change; 0: the frame). Most pixels of a Ms. Pac-Man frame
# repeat the last one, so a frame's few moving pixels barely register among them,
# and D stays at chance on a good generator's frames; their change is all moving
# pixels, scaled up to the range of a frame.
D_CHANGE = 0.0
D_CHANGE_GAIN = 8.0
# Each D scale ends in a 1x1 convolution giving a logit per position of its last
# VALID convolution (train.py --d-patch, as pix2pix's PatchGAN) instead of the
# paper's pooling and fully connected layers, which give one logit per image: a
# verdict per patch sends G its gradient where a patch looks generated, not spread
# over a frame that mostly repeats the last one.
D_PATCH = False
# D is one small tower at the finest scale alone (train.py --d-local MAPS): VALID
# convolutions of these kernel sizes and MAPS maps with ReLU, then a 1x1
# convolution to a logit per position (a 7x7 patch). The paper's towers learn
# the few wrong pixels of a good generator's frames slowly (pooled, fully
# connected, at coarse scales that average them away); alone, this one told
# them from the truth at 0.60 after 2,500 iterations, where the paper's towers
# with a logit per patch had 0.55 after 3,000, at a third of the time an
# iteration (benchmarks/RESULTS.md, twenty-seventh session). 0: the paper's.
D_LOCAL = 0
D_LOCAL_MAPS = 64
D_LOCAL_KERNELS = (3, 3, 3)
# With the copy mask, a prediction made for use (not for training) takes, at each
# pixel of the finest scale, the last frame or the generated frame, whichever the
# mask favours (train.py --hard-mask), instead of their blend: a pixel the mask
# copies with weight 0.8 is then exact rather than 20% off.
HARD_MASK = False
# A prediction made for use (not for training) takes, at each pixel, the colour of
# its input frames nearest to it (train.py --palette): for video drawn from a
# small palette, such as the Atari games, where a colour between two of the
# palette's is a hedge between them. Input frames with more colours than
# PALETTE_MAX_COLOURS are refused (the Atari 2600 has 128).
PALETTE = False
PALETTE_MAX_COLOURS = 256
# ... and only among the colours its input frames show within this many pixels of
# it (0: anywhere in the frame). In the built-in Ms. Pac-Man video (frame skip 2;
# 3,320 frames of 10 training videos, benchmarks/palette_radius.py), where the 5
# input frames show a pixel's next colour at all, they show it within 8 pixels
# of it for all but 848 of 111.6 million pixels; a hedge that snaps to a farther
# colour takes something else's, such as the score's.
PALETTE_RADIUS = 8

# --- training ------------------------------------------------------------------
BATCH_SIZE = 8
ITERATIONS = 500000
LR_G = 4e-5                  # Adam
# D's optimizer (train.py --d-optimizer) and its default step (--lr-d) for each:
# the paper's SGD, or Adam, as the local D was trained in benchmarks/RESULTS.md.
D_OPTIMIZER = 'sgd'
LR_D = {'sgd': 0.02, 'adam': 1e-3}
# Iterations at the start of a run in which D learns alone, G held (train.py
# --d-warmup): a D started afresh beside a generator loaded with -l is at chance,
# and a local D trained beside it from there stayed at chance (benchmarks/
# RESULTS.md, twenty-seventh and twenty-eighth sessions).
D_WARMUP = 0
# Frames G predicts in a row from each training clip (train.py --rollout), each
# from the history shifted by its own previous prediction, as test.py predicts
# several steps ahead; the paper: 1. Clips need HIST_LEN + ROLLOUT frames.
ROLLOUT = 1
ADAM_BETA1 = 0.9
# Weights of the generator's loss terms (train.py --lambda-<name>); the terms
# themselves are in utils/training/losses.py.
# 'branch' (the weighted Lp + GDL of a copy mask's generated branch alone) and
# 'mask' (the mask's cross-entropy against the pixels that do not change) apply only with
# --copy-mask: without them the mask learns to copy everywhere before the
# generated frame is worth keeping, and its sigmoid saturates there.
LOSS_WEIGHTS = {'lp': 1.0, 'gdl': 1.0, 'adv': 0.05, 'branch': 1.0, 'mask': 1.0}
L_NUM = 2                    # p of the Lp loss
ALPHA_NUM = 1                # alpha of the GDL
SNAPSHOT_INTERVAL = 1000     # iterations between trainer snapshots and model saves
SNAPSHOTS_KEPT = 3
LOG_INTERVAL = 10
SAMPLE_INTERVAL = 1000       # iterations between sample images
EVAL_INTERVAL = 1000         # iterations between full-frame evaluations
EVAL_WINDOWS = 4             # test windows scored by that evaluation
LOADER_PROCESSES = 1
# Divergence warnings (train.py --divergence-*): G's loss over the last tenth of
# the window averaging this many times its average over the window before it (a
# diverging small-preset run's loss tripled within 250 iterations; in a healthy
# one's first 2,800 iterations the ratio never passed 1.2), or the evaluation
# PSNR falling this many dB below the best.
DIVERGENCE_LOSS_FACTOR = 2.0
DIVERGENCE_WINDOW = 200
DIVERGENCE_PSNR_DROP = 3.0
MODEL_ADVERSARIAL = 'TRAINED_ADVERSARIAL.model'   # the generator of the last snapshot
MODEL_L2 = 'TRAINED_L2.model'
BEST_ADVERSARIAL = 'BEST_ADVERSARIAL.model'     # the best on the full-frame evaluation
BEST_L2 = 'BEST_L2.model'
SNAPSHOT_PREFIX = 'snapshot_iter_'
# float32, or mixed16 (GPU): float16 weights and activations, float32 losses and
# updates, and dynamic loss scaling that doubles the scale after this many
# iterations without overflow.
DTYPES = ('float32', 'mixed16')
DTYPE = 'float32'
LOSS_SCALE_INTERVAL = 1000

# --- testing -------------------------------------------------------------------
TEST_STEPS = 8
PIXEL_CHANGE_THRESHOLD = 10  # a pixel moves when a channel changes by more (0..255)
COLOUR_TOLERANCE = 32        # a predicted pixel has the right colour when every channel is this close
TEST_BATCH = 4               # windows predicted at once
NUM_GIFS = 3
GIF_SCALE = 2                # pixel upscaling of the pictures
GIF_FRAME_MS = 250
MAX_DB = 100.0               # PSNR / sharpness of an exact match, and their cap
# A difference between two models' scores gets an interval from resampling whole test
# videos this many times: windows of one video overlap, so they are not independent.
INTERVAL_RESAMPLES = 10000
INTERVAL_LEVEL = 0.95
SSIM_SIGMA = 1.5
SSIM_WIN = 11
SSIM_K1 = 0.01
SSIM_K2 = 0.03
