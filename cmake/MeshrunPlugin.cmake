# meshrun_add_plugin(NAME SOURCES...): a loadable module named
# libmeshrun_NAME.so, so `plugin = "NAME"` in a job spec finds it once it is
# in meshrun's plugin directory or on MESHRUN_PLUGIN_PATH. Only
# meshrun_plugin_entry is exported, and an undefined symbol fails the link
# rather than the dlopen. Shared by meshrun's own build (the examples) and
# by plugins built against an installed meshrun (meshrunConfig.cmake).
function(meshrun_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "meshrun_add_plugin(${name}): give at least one source file")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE meshrun::plugin_sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "meshrun_${name}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # In meshrun's own build tree: its warnings, and beside its plugins, where
  # bare names resolve.
  if(TARGET meshrun_flags)
    target_link_libraries(${name} PRIVATE meshrun_flags)
  endif()
  if(MESHRUN_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${MESHRUN_PLUGIN_OUTPUT_DIR}")
  endif()
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
