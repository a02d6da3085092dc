"""Sources: image files on disk to decoded uint8 batches.

``listing`` finds the files and their classes as Keras does, ``load_img`` decodes one
file as Keras's ``load_img`` (the exactness reference), ``decoders`` turns a batch of
paths into one array with Pillow or NVIDIA DALI.
"""
