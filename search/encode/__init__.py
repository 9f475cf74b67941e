"""Embedding models: the Encoder contract and ONNX runtime (onnx.py), sentence-transformers
(sentence_tf.py), finding or downloading the model (resolve.py, download.py), the fine-tuned build
(tuning.py), the query adapter (adapter.py). Resolution hands back an encoder with its ranking profile."""
