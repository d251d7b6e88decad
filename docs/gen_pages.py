"""mkdocs-gen-files' script: writes the generated pages (keras_backbones/docs.py) into the build."""

import mkdocs_gen_files

from keras_backbones import docs

for path, text in docs.pages().items():
    with mkdocs_gen_files.open(path, "w") as page:
        page.write(text)
