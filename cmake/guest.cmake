# vmx_guest_program(NAME SOURCES src... [CFLAGS flag...] [LDFLAGS flag...] [STATIC|DYNAMIC|BAREMETAL])
#
# Cross-compiles a riscv64 Linux program with Debian's riscv64-linux-gnu-gcc into
# ${VMX_GUEST_DIR}/NAME and adds it to the "guest" target (built by default).
# STATIC (the default) links statically; DYNAMIC links against the cross libc,
# whose sysroot is /usr/riscv64-linux-gnu (pass -L to vmx and qemu).
set(VMX_GUEST_DIR ${CMAKE_BINARY_DIR}/guest CACHE INTERNAL "")
set(VMX_CROSS_SYSROOT /usr/riscv64-linux-gnu CACHE INTERNAL "")
if(NOT TARGET guest)
  add_custom_target(guest ALL)
endif()

function(vmx_guest_program name)
  cmake_parse_arguments(G "STATIC;DYNAMIC;BAREMETAL" "" "SOURCES;CFLAGS;LDFLAGS" ${ARGN})
  set(out ${VMX_GUEST_DIR}/${name})
  set(srcs)
  foreach(s ${G_SOURCES})
    list(APPEND srcs ${CMAKE_CURRENT_SOURCE_DIR}/${s})
  endforeach()
  if(G_BAREMETAL)
    set(link -static -nostdlib -nostartfiles -fno-pie -no-pie -Wl,--build-id=none -mcmodel=medany)
  elseif(G_DYNAMIC)
    set(link)
  else()
    set(link -static)
  endif()
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMX_GUEST_DIR}
    COMMAND ${RISCV64_CC} -O2 -g -Wall -march=rv64gc -mabi=lp64d ${G_CFLAGS} -o ${out} ${srcs} ${link} ${G_LDFLAGS}
    DEPENDS ${srcs}
    COMMENT "riscv64-linux-gnu-gcc ${name}"
    VERBATIM)
  add_custom_target(guest_${name} DEPENDS ${out})
  add_dependencies(guest guest_${name})
endfunction()
