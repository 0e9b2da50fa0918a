#!/bin/sh
# Fills fuzz/seeds/<target> from testdata/ (seeds/ is not committed).
# Run from the repository root or from fuzz/: sh fuzz/seed.sh
set -eu
cd "$(dirname "$0")"
t=../testdata
rm -rf seeds
mkdir -p seeds/reference seeds/manifest seeds/statement seeds/simple_signing \
  seeds/predicate seeds/policy seeds/bundle seeds/dockerfile seeds/layout \
  seeds/manifests seeds/admission_object
printf 'dhi.io/python:3.13' > seeds/reference/1
printf 'oci:testdata/demo:3.13' > seeds/reference/2
printf 'localhost:5000/a/b@sha256:f28f15d3ca4f37e14510fa8474e108e9203a7ff606470816f8d17b976bc0ed40' > seeds/reference/3
cp "$t"/demo/blobs/sha256/* seeds/manifest/
cp "$t"/demo/blobs/sha256/* seeds/statement/
cp "$t"/demo/blobs/sha256/* seeds/simple_signing/
find "$t"/predicates -type f -name '*.json' | while read -r f; do
  cp "$f" "seeds/predicate/$(basename "$(dirname "$f")")-$(basename "$f")"
done
cp ../crates/dhi-verify/src/policy/default.toml seeds/policy/
find "$t"/sigstore-conformance -name 'bundle.sigstore.json' | while read -r f; do
  cp "$f" "seeds/bundle/$(basename "$(dirname "$f")").json"
done
cp "$t"/dockerfiles/*.Dockerfile seeds/dockerfile/
cp "$t"/deploy/*.yaml "$t"/deploy/*.json seeds/manifests/
# admission_object: the objects of the AdmissionReview bodies, and a List.
cp "$t"/deploy/*.json seeds/admission_object/
for f in "$t"/admission/*-create.json "$t"/admission/*-update.json; do
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["request"]["object"]))' \
    "$f" > "seeds/admission_object/$(basename "$f")"
done
# layout: mode, object (u16 LE), offset (u32 LE), payload; one per mode.
for mode in 0 1 2 3; do
  for obj in 0 7 21 40; do
    printf "\\$(printf %o $mode)\\$(printf %o $obj)\\000\\020\\000\\000\\000xyz" \
      > "seeds/layout/m${mode}-o${obj}"
  done
done
echo "seeded: $(find seeds -type f | wc -l) files"
