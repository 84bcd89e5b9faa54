// Runs when the addon failed to build during install: one clear line, and a zero exit so
// `pnpm install` goes on. At run time registerNativeBackend() throws and the cpu backend is used.
process.stderr.write(
  '@opensora-ts/tfjs-backend-native: native addon not built (needs a C++ compiler and libopenblas-dev); ' +
    "the 'native' backend is unavailable and tfjs's cpu backend will be used.\n",
);
