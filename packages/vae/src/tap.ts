import type { tf } from '@opensora-ts/kernels';

/**
 * Internal hook for intermediates: called with a tap name ('conv_in', 'down0', 'mid_attn',
 * 'before_drop', ...) and the channels-last activation. Undefined when nobody records, so the
 * forward pass does no extra work.
 */
export type Tap = ((name: string, x: tf.Tensor5D) => void) | undefined;
