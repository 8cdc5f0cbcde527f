Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/bin/dotation", line 5, in <module>
    from dotation_docs.cli import main
ModuleNotFoundError: No module named 'dotation_docs.cli'
rc2=1
