"""The augmentation tasks: prompts, output models, input rows and output readers per method."""
