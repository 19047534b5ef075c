# Generates presets.cpp with the text of every presets/*.yaml (run at build time).
# Inputs: PRESET_DIR, OUTPUT.
file(GLOB files "${PRESET_DIR}/*.yaml")
list(SORT files)
set(body "")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(APPEND body "    {\"${name}\", R\"wmspreset(${text})wmspreset\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from presets/*.yaml by cmake/embed_presets.cmake. Do not edit.\n#include \"wms/train/presets.hpp\"\n\nnamespace wms::train {\n\nconst std::vector<Preset>& presets() {\n  static const std::vector<Preset> all = {\n${body}  };\n  return all;\n}\n\n}  // namespace wms::train\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
