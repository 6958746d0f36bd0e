# Writes a C file defining `const char NAME[]` with the bytes of IN, and
# `const char *const NAME_versions[]`: NAME first, then the bytes of every
# file in HISTORY ('|'-separated), then NULL.
function(px_embed_bytes file var)
  file(READ ${file} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${var} "${bytes}" PARENT_SCOPE)
endfunction()

px_embed_bytes(${IN} bytes)
set(c "/* generated from ${IN} and history/ */\n")
string(APPEND c "const char ${NAME}[] = {${bytes} 0x00};\n")
set(refs "${NAME}, ")
string(REPLACE "|" ";" history "${HISTORY}")
set(i 0)
foreach(f IN LISTS history)
  px_embed_bytes(${f} bytes)
  string(APPEND c "/* ${f} */\nstatic const char ${NAME}_v${i}[] = {${bytes} 0x00};\n")
  string(APPEND refs "${NAME}_v${i}, ")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND c "extern const char *const ${NAME}_versions[];\n")
string(APPEND c "const char *const ${NAME}_versions[] = {${refs}(const char *)0};\n")
file(WRITE ${OUT} "${c}")
