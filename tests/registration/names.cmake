# Helpers of discover.cmake and check.cmake. Test case names may hold ';', '[' or ']', which CMake lists
# split on or group by, so names are handled as plain strings here, never as list elements.

# Takes the first line off the variable named text_var: the line (without its newline) goes to line_var,
# and more_var is false once there was no line left.
function(outpost_next_line text_var line_var more_var)
  set(text "${${text_var}}")
  string(LENGTH "${text}" length)
  if(length EQUAL 0)
    set(${line_var} "" PARENT_SCOPE)
    set(${more_var} FALSE PARENT_SCOPE)
    return()
  endif()
  string(FIND "${text}" "\n" nl)
  if(nl EQUAL -1)
    set(line "${text}")
    set(text "")
  else()
    string(SUBSTRING "${text}" 0 ${nl} line)
    math(EXPR next "${nl} + 1")
    string(SUBSTRING "${text}" ${next} -1 text)
  endif()
  string(REGEX REPLACE "\r$" "" line "${line}")
  set(${line_var} "${line}" PARENT_SCOPE)
  set(${text_var} "${text}" PARENT_SCOPE)
  set(${more_var} TRUE PARENT_SCOPE)
endfunction()

# The Catch2 test spec that names exactly this test case: '\', ',', '[' and ']' escaped with '\'.
function(outpost_catch_spec name out_var)
  string(REPLACE "\\" "\\\\" spec "${name}")
  string(REPLACE "," "\\," spec "${spec}")
  string(REPLACE "[" "\\[" spec "${spec}")
  string(REPLACE "]" "\\]" spec "${spec}")
  set(${out_var} "${spec}" PARENT_SCOPE)
endfunction()

# text as one CMake bracket argument ([==[text]==]), with enough '=' that text cannot close it early.
function(outpost_bracket text out_var)
  set(eq "")
  while(TRUE)
    string(FIND "${text}" "]${eq}" at)
    if(at EQUAL -1)
      break()
    endif()
    string(APPEND eq "=")
  endwhile()
  set(${out_var} "[${eq}[${text}]${eq}]" PARENT_SCOPE)
endfunction()
