# Turns a text file into a C string constant (the DSL prelude compiled into xaic).
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "/* generated from ${IN} */\n#include <stddef.h>\nconst char xai_prelude_text[] = {${bytes} 0};\nconst size_t xai_prelude_length = sizeof xai_prelude_text - 1;\n")
