"""What training and evaluation read and how it is degraded.

corpus (image files by path: training, held-out and video splits), photo_corpus (the Debian
photographs, fetched once), dead_leaves (procedural images), degrade (blur kernels, blur, JPEG,
noise), tasks (the five tasks, synthetic training pairs, held-out pairs), pairs (the pair and batch
protocols the loop reads, a folder of user pairs), motion_batches and batch_ops (motion-deblur
batches made on the training device, needs torch), sources (which source a task trains on).
"""
