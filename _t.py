import numpy as np
from mathocr.web.handwriting import render
from mathocr import segmentation as S
orig_ds=S._dot_shape; orig_ic=S._is_colon
def ds(members,tall,full,boxes,labels,ids,sw,is_round):
    r=orig_ds(members,tall,full,boxes,labels,ids,sw,is_round)
    print('dot_shape',members,boxes[members].tolist(),'->',repr(r), 'round',[is_round(i) for i in members])
    return r
def ic(pb,top,bottom):
    r=orig_ic(pb,top,bottom); print('is_colon',pb.tolist(),top,bottom,r); return r
S._dot_shape=ds; S._is_colon=ic
for text in ['6:33','0+8:7']:
    print(text); S.segment(np.asarray(render(text,size=(600,200))))
