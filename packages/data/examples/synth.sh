npx opensora-data synth data/shapes -n 8     # 8 "shapes world" clips, 144x256, 33 frames, and data/shapes/meta.csv
