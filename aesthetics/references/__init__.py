"""Reference-based scoring: rated photos retrieved by content and style.

`index.py` (TF-free): `ReferenceIndex`, its folder format and FAISS / numpy
search. `graph.py` (TF-free): neighbourhoods -> the inputs of a reference
model, and the k-NN estimate. `embed.py` (Keras): content and style
embeddings of photos from a model's backbone. `scoring.py`: the reference
score of photos (k-NN, or a trained `reference_gcn` model) for `predict`
and the API. See docs/REFERENCES.md.
"""
