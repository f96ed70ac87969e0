"""User strategies: the on-disk workspace, the templates new ones start from, and static checks."""
