"""mkdocs-gen-files' script: writes the generated pages (keras_backbones/docs.py) into the build."""

import mkdocs_gen_files

from keras_backbones import docs

for path, content in docs.pages().items():
    with mkdocs_gen_files.open(path, "wb" if isinstance(content, bytes) else "w") as page:
        page.write(content)
