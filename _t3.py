import numpy as np
from mathocr.web.handwriting import render
from mathocr.solver import Solver
s=Solver.load()
for text,size,pen in [('30*72=2160',(600,200),None),('30*72=2170',(600,200),None),('841/970-4=',(600,200),None),('131+436=',(600,200),16.7),('12*34=408',(600,200),None),('6:3',(600,200),None),('8:2+1',(600,200),None),('7-3=4',(600,200),None),('12-5',(600,200),16.7),('123-45-6',(600,200),16.7)]:
    sol=s.solve(np.asarray(render(text,size=size,pen=pen)))
    print(repr(text),pen,'->',sol.status,repr(sol.expression),sol.value,getattr(sol,'correct',None),[a.expression for a in sol.alternatives][:2])
