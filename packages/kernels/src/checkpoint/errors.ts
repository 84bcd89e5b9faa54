// The one error every checkpoint reader throws for a user's file: the message starts with the
// file's path, says what was found and what to do about it.

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** What to do with a torch pickle this reader will not (or cannot) read. */
export const CONVERT_ADVICE =
  'Convert it to .safetensors from a trusted source (in Python, if you trust where it came from: ' +
  "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')) and load that file.";
