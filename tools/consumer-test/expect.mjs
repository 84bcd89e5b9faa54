// What each README example must print (substrings of its stdout), as its README says, and for some the
// videos it must write ({ stdout, videos: { file: 'width,height,frames' } }). An example that exits 0
// but prints or writes something else fails: the README would be telling users the wrong thing.
export const expectedOutput = {
  '@opensora-ts/kernels': {
    'quick-start': ['[ 2, 64, 3456 ] [ 1, 4, 16, 8 ]'],
    'train-step': ['loss 19.47 -> 0.01', 'EMA keys: weight, bias'],
  },
  '@opensora-ts/tfjs-backend-native': {
    'quick-start': ['native 2 ', '[ 1024, 1024 ]'],
  },
  '@opensora-ts/tfjs-backend-torch': {
    'quick-start': [' cpu [ 1024, 1024 ] {}'],
  },
  '@opensora-ts/vae': {
    'quick-start': ['[ 1, 16, 5, 8, 8 ] [ 1, 3, 17, 64, 64 ]'],
    reconstruct: { stdout: ['PSNR ', 'SSIM ', '(17 frames 64x64)'], videos: { 'recon.mp4': '64,64,17' } },
  },
  '@opensora-ts/stdit': {
    'quick-start': ['[ 1, 32, 5, 8, 8 ]'],
  },
  '@opensora-ts/flow': {
    'quick-start': ['10/10', '[ 1, 16, 5, 8, 8 ]'],
  },
  '@opensora-ts/conditioning': {
    'quick-start': [
      'a cat sleeps on a sofa the aesthetic score is excellent. the motion strength is fair. camera motion: pan left.',
      '[ 1, 1, 300, 64 ] [ 1, 300 ]',
    ],
  },
  '@opensora-ts/data': {
    synth: [],
    'quick-start': ['kept all 8 rows', '3 batch(es) this epoch', '[ 17, 144, 256 ] 2'],
  },
  '@opensora-ts/eval': {
    'quick-start': ['demo VAE PSNR over 8 clips: ', 'ground-truth 1 1 1', 'demo-vae-round-trip '],
  },
  '@opensora-ts/pipeline': {
    'text-to-video': {
      stdout: ['denoise 30/30', 'decode 1/1', '17 frames 64x64, 30 steps', 'text text ', 'denoise dit ', 'decode vae '],
      videos: { 'red.mp4': '64,64,17' },
    },
  },
  '@opensora-ts/demo-model': {
    'quick-start': ["[ 'dog' ]"],
  },
};
