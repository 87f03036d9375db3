"""A stand-in for a torchvision dataset, shared by the adapter tests."""


class TinyDataset:
    """Map-style dataset: a list of (image, label) pairs with optional ``classes``."""

    def __init__(self, items, classes=None):
        self.items = list(items)
        if classes is not None:
            self.classes = classes

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]
