"""Packaging for spikeometric_nb: every field comes from settings.ini (the nbdev 2 layout)."""
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent / 'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
license_name, license_classifier = licenses[cfg['license']]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(Path(__file__).parent / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=license_name,
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status']) - 1],
        'Intended Audience :: ' + cfg['audience'],
        'License :: ' + license_classifier,
        'Natural Language :: ' + cfg['language'],
        'Programming Language :: Python :: ' + cfg['min_python'],
    ],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    python_requires='>=' + cfg['min_python'],
    install_requires=cfg['requirements'].split(),
    # `io`: the file formats (spikeometric_nb.io); `ray`: sweeps on Ray; both also part of `dev`, whose notebooks and tests use them.
    # `bench` names the baseline only; it must be installed with --no-deps (its pins break numpy), see `make bench`.
    extras_require={'dev': cfg['dev_requirements'].split(), 'io': cfg['io_requirements'].split(), 'ray': cfg['ray_requirements'].split(),
                    'bench': ['spikeometric==1.0.3']},
    zip_safe=False,
    entry_points={'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
